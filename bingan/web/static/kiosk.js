// The self-service copy kiosk. Every screen goes back to the start screen (which forgets the
// patient) when nobody touches it for data-idle-seconds. The start screen reads the ID card through
// the card-reader bridge on the kiosk PC (GET <reader>/readcard → {name, id_number, …, photo} or
// {code, message}); it polls the reader, but takes a card only after seeing the reader empty once,
// so a card left behind by the last patient is not read for the next. The print screen follows the
// copy job (GET /api/v1/jobs/{id}), then hands the PDF to the browser's print dialog.
(function () {
  "use strict";
  var body = document.body;
  var idleTimer = null;
  var idlePaused = false;

  function goHome() { window.location.replace(body.dataset.home || "/kiosk"); }

  function touched() {
    if (idleTimer) window.clearTimeout(idleTimer);
    var seconds = parseInt(body.dataset.idleSeconds || "0", 10);
    if (seconds > 0 && !idlePaused) idleTimer = window.setTimeout(goHome, seconds * 1000);
  }

  // --- 1 请刷身份证 ---
  function startReader() {
    var panel = document.getElementById("card-panel");
    if (!panel) return;
    var reader = panel.dataset.readerUrl.replace(/\/$/, "");
    var status = document.getElementById("card-status");
    var seenEmpty = false;
    var busy = false;

    function read(explicit) {
      if (busy) return;
      busy = true;
      fetch(reader + "/readcard", { cache: "no-store" })
        .then(function (answer) { return answer.json(); })
        .then(function (card) {
          busy = false;
          if (card.code || !card.id_number) {
            seenEmpty = true;
            status.textContent = card.message || "请将身份证放在读卡区";
            return;
          }
          if (!explicit && !seenEmpty) { status.textContent = "请先取下读卡区上的身份证，再重新放上"; return; }
          delete card.photo;  // the kiosk keeps no photo
          document.getElementById("card-data").value = JSON.stringify(card);
          document.getElementById("id-number").value = card.id_number;
          document.getElementById("patient-name").value = card.name || "";
          status.textContent = "已读卡：" + (card.name || "") + "，请稍候…";
          document.getElementById("identify-form").submit();
        })
        .catch(function () {
          busy = false;
          seenEmpty = true;
          status.textContent = "读卡器未连接，请输入身份证号和姓名";
        });
    }
    document.getElementById("read-card").addEventListener("click", function () { read(true); });
    read(false);
    window.setInterval(function () { read(false); }, 2000);
    // typing by hand drops what a card gave
    ["id-number", "patient-name"].forEach(function (id) {
      document.getElementById(id).addEventListener("input", function () { document.getElementById("card-data").value = ""; });
    });
  }

  // --- 5 打印 ---
  function followJob() {
    var jobId = body.dataset.job;
    if (!jobId) return;
    idlePaused = true;  // a long copy job must not send the patient away
    touched();
    var bar = document.getElementById("kiosk-progress");
    var note = document.getElementById("progress-note");
    function poll() {
      fetch("/api/v1/jobs/" + jobId, { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (answer) { return answer.json(); })
        .then(function (job) {
          bar.value = job.progress || 0;
          note.textContent = job.note || job.state_name || "";
          if (job.state === "done") { printCopy(); return; }
          if (job.state === "failed" || job.state === "cancelled") {
            var error = document.getElementById("job-error");
            error.textContent = (job.error || "生成失败") + " 请到病案复印窗口处理，凭证号已记录。";
            error.hidden = false;
            idlePaused = false;
            touched();
            return;
          }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    poll();
  }

  function printCopy() {
    var frame = document.getElementById("print-frame");
    var again = document.getElementById("print-copy");
    document.getElementById("print-title").textContent = "正在打印，请稍候";
    var left = false;
    function finish() { if (!left) { left = true; window.location.assign(body.dataset.done); } }
    frame.onload = function () {
      try { frame.contentWindow.focus(); frame.contentWindow.print(); } catch (e) { /* the timer below goes on */ }
      again.hidden = false;
      window.setTimeout(finish, 8000);  // the done screen follows the print dialog
    };
    again.onclick = function () { try { frame.contentWindow.print(); } catch (e) { /* nothing to do */ } };
    frame.src = body.dataset.pdf;
    frame.hidden = false;
    window.setTimeout(finish, 20000);  // a browser that never loads the frame still ends the visit
  }

  // --- 6 完成 ---
  function countDown() {
    var seconds = parseInt(body.dataset.doneSeconds || "0", 10);
    var shown = document.getElementById("countdown");
    if (!seconds || !shown) return;
    body.dataset.home = "/kiosk";
    var timer = window.setInterval(function () {
      seconds -= 1;
      shown.textContent = String(Math.max(seconds, 0));
      if (seconds <= 0) { window.clearInterval(timer); goHome(); }
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["pointerdown", "keydown", "input", "touchstart"].forEach(function (name) {
      document.addEventListener(name, touched, { passive: true });
    });
    touched();
    startReader();
    followJob();
    countDown();
  });
})();
