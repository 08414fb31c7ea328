// The copy window. The window page reads the applicant's ID card through the card-reader bridge on
// the clerk's PC (GET <reader>/readcard → {name, sex, nation, birth, address, id_number, issuer,
// valid_from, valid_to, photo}; {code, message} when no card is on it) and shows the papers the
// chosen applicant type must bring. The request page reloads once the copy job is done and hands
// the finished PDF to the browser's print dialog.
(function () {
  "use strict";

  function showPapers() {
    var select = document.getElementById("applicant-type");
    if (!select) return;
    document.querySelectorAll(".papers[data-type]").forEach(function (box) {
      box.hidden = box.dataset.type !== select.value;
    });
  }

  function say(text, bad) {
    var status = document.getElementById("card-status");
    status.textContent = text;
    status.className = bad ? "bad" : "good";
  }

  function readCard() {
    var form = document.getElementById("copy-form");
    var reader = form.dataset.readerUrl.replace(/\/$/, "");
    say("正在读卡…", false);
    fetch(reader + "/readcard", { cache: "no-store" })
      .then(function (answer) { return answer.json(); })
      .then(function (card) {
        if (card.code || !card.id_number) { say(card.message || "读卡失败，请重新放置身份证或手工录入", true); return; }
        document.getElementById("applicant-name").value = card.name || "";
        document.getElementById("applicant-id").value = card.id_number;
        var photo = card.photo || "";
        delete card.photo;
        document.getElementById("card-data").value = JSON.stringify(card);
        document.getElementById("card-photo").value = photo;
        var view = document.getElementById("card-photo-view");
        if (photo) { view.src = "data:image/jpeg;base64," + photo; view.hidden = false; }
        say("已读卡：" + card.name + "（有效期至 " + (card.valid_to || "长期") + "）", false);
      })
      .catch(function () { say("连接不上读卡器（" + reader + "），请确认读卡服务已启动，或手工录入", true); });
  }

  function printCopy() {
    var frame = document.getElementById("print-frame");
    var url = document.getElementById("printing").dataset.pdf;
    frame.onload = function () {
      try { frame.contentWindow.print(); } catch (e) { window.open(url, "_blank", "noopener"); }
    };
    frame.src = url;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("applicant-type");
    if (select) { select.addEventListener("change", showPapers); showPapers(); }
    var read = document.getElementById("read-card");
    if (read) read.addEventListener("click", readCard);
    var print = document.getElementById("print-copy");
    if (print) print.addEventListener("click", printCopy);
  });

  // The job's progress fragment refreshes itself; once it reports "done" the page shows the print button.
  document.addEventListener("htmx:afterSettle", function () {
    var box = document.getElementById("printing");
    if (box && box.querySelector('.job-progress[data-job-state="done"]') && !document.getElementById("print-copy")) {
      window.location.reload();
    }
  });
})();
