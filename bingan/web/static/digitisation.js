// The capture page (数字化拍摄). The document camera (高拍仪) is a camera to the browser: its live
// picture is shown through getUserMedia, "拍摄" sends the current frame to the capture API (the server
// cuts the page out of the darker table: 自动裁边) and "重拍" replaces one page the same way. The page
// tools (order, rotate, straighten, crop, delete, category) call the page API; after every change the
// server draws the pages panel again (thumbnails, quality reasons, what paper is still missing).
(function () {
  "use strict";

  var root, video, panel;

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  function say(text) {
    var status = document.getElementById("shoot-status");
    status.textContent = text;
    status.className = "good";
    document.getElementById("camera-error").hidden = true;
  }

  function fail(text) {
    var box = document.getElementById("camera-error");
    box.textContent = text;
    box.hidden = false;
    var status = document.getElementById("shoot-status");
    status.textContent = "";
  }

  function busy(on) {
    root.classList.toggle("busy", on);
    document.getElementById("shoot").disabled = on || !video.srcObject;
  }

  // fetch with the CSRF token; a refusal's Chinese reason ({"detail": …}) becomes the error's message.
  function call(method, url, body) {
    var options = { method: method, headers: { "X-CSRF-Token": csrfToken() }, credentials: "same-origin" };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    return fetch(url, options).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (data) {
        if (!answer.ok) throw new Error(typeof data.detail === "string" ? data.detail : "操作失败（HTTP " + answer.status + "）");
        return data;
      });
    });
  }

  function refresh() {
    return fetch(root.dataset.panelUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.text(); })
      .then(function (html) { panel.innerHTML = html; });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail("此浏览器无法使用高拍仪（需要 https 或本机访问），请改用“上传扫描件”");
      return;
    }
    navigator.mediaDevices.getUserMedia({ audio: false, video: { width: { ideal: 3264 }, height: { ideal: 2448 } } })
      .then(function (stream) {
        video.srcObject = stream;
        video.addEventListener("loadedmetadata", function () {
          document.getElementById("shoot").disabled = false;
          say("高拍仪已就绪（" + video.videoWidth + "×" + video.videoHeight + "）");
        }, { once: true });
      })
      .catch(function (error) {
        fail("打不开高拍仪（" + error.name + "）：请检查高拍仪连接和浏览器的摄像头权限，或改用“上传扫描件”");
      });
  }

  // The camera's current frame as a JPEG.
  function frame() {
    return new Promise(function (resolve, reject) {
      if (!video.videoWidth) { reject(new Error("高拍仪还没有画面")); return; }
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) { if (blob) resolve(blob); else reject(new Error("拍摄失败，请重试")); },
        "image/jpeg", 0.92);
    });
  }

  function autoCrop() { return document.getElementById("auto-crop").checked ? "true" : "false"; }

  function describe(page) {
    var reasons = page.quality && page.quality.reasons ? page.quality.reasons : [];
    return page.category_name + "第 " + page.position + " 页" + (reasons.length ? "（质量提示：" + reasons.join("；") + "）" : "");
  }

  function shoot() {
    busy(true);
    frame().then(function (blob) {
      var form = new FormData();
      form.append("files", blob, "camera.jpg");
      form.append("category", document.getElementById("shoot-category").value);
      form.append("auto_crop", autoCrop());
      return call("POST", "/api/v1/records/" + root.dataset.recordId + "/scans", form);
    }).then(function (answer) {
      say("已拍摄：" + answer.pages.map(describe).join("、"));
      return refresh();
    }).catch(function (error) { fail(error.message); }).then(function () { busy(false); });
  }

  function reshoot(pageId) {
    return frame().then(function (blob) {
      var form = new FormData();
      form.append("file", blob, "camera.jpg");
      form.append("auto_crop", autoCrop());
      return call("POST", "/api/v1/pages/" + pageId + "/reshoot", form);
    }).then(function (answer) { say("已重拍：" + describe(answer)); });
  }

  // The record's pages in the order shown, with one page moved a place up or down in its category.
  function moved(item, step) {
    var siblings = Array.prototype.slice.call(item.parentNode.children);
    var at = siblings.indexOf(item), to = at + step;
    if (to < 0 || to >= siblings.length) return null;
    var ids = Array.prototype.map.call(panel.querySelectorAll(".scan-thumb"), function (li) { return Number(li.dataset.pageId); });
    var mine = ids.indexOf(Number(item.dataset.pageId)), other = ids.indexOf(Number(siblings[to].dataset.pageId));
    ids[mine] = Number(siblings[to].dataset.pageId);
    ids[other] = Number(item.dataset.pageId);
    return ids;
  }

  function edit(button) {
    var item = button.closest(".scan-thumb");
    var id = item.dataset.pageId, page = "/api/v1/pages/" + id;
    switch (button.dataset.edit) {
      case "move": {
        var order = moved(item, Number(button.dataset.step));
        return order ? call("PUT", "/api/v1/records/" + root.dataset.recordId + "/scans/order", { page_ids: order }) : null;
      }
      case "rotate": return call("POST", page + "/rotate", { degrees: Number(button.dataset.degrees) });
      case "deskew": return call("POST", page + "/deskew");
      case "auto-crop": return call("POST", page + "/auto-crop");
      case "crop": openCrop(id); return null;
      case "reshoot": return reshoot(id);
      case "delete":
        if (!window.confirm("删除" + item.querySelector(".scan-meta").textContent.split("·")[0].trim() + "？")) return null;
        return call("DELETE", page);
    }
    return null;
  }

  function run(promise) {
    if (!promise) return;
    busy(true);
    promise.then(refresh).catch(function (error) { fail(error.message); }).then(function () { busy(false); });
  }

  // 框选裁剪: a rectangle dragged on the page's picture, sent as shares of its width and height.
  var cropping = null;

  function openCrop(id) {
    var dialog = document.getElementById("crop-dialog"), image = document.getElementById("crop-image");
    cropping = { id: id, box: null };
    document.getElementById("crop-box").hidden = true;
    image.src = "/api/v1/pages/" + id + "/image?width=900";
    dialog.showModal();
  }

  function cropPoint(event) {
    var rect = document.getElementById("crop-image").getBoundingClientRect();
    return { x: Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
             y: Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)) };
  }

  function drawCrop(start, end) {
    var box = document.getElementById("crop-box"), image = document.getElementById("crop-image");
    var left = Math.min(start.x, end.x), top = Math.min(start.y, end.y);
    var right = Math.max(start.x, end.x), bottom = Math.max(start.y, end.y);
    cropping.box = { left: left, top: top, right: right, bottom: bottom };
    box.style.left = (image.offsetLeft + left * image.clientWidth) + "px";
    box.style.top = (image.offsetTop + top * image.clientHeight) + "px";
    box.style.width = ((right - left) * image.clientWidth) + "px";
    box.style.height = ((bottom - top) * image.clientHeight) + "px";
    box.hidden = false;
  }

  function cropEvents() {
    var start = null;
    document.addEventListener("pointerdown", function (event) {
      if (event.target.id !== "crop-image") return;
      event.preventDefault();
      start = cropPoint(event);
    });
    document.addEventListener("pointermove", function (event) { if (start) drawCrop(start, cropPoint(event)); });
    document.addEventListener("pointerup", function (event) { if (start) { drawCrop(start, cropPoint(event)); start = null; } });
    document.addEventListener("click", function (event) {
      if (event.target.id === "crop-cancel") document.getElementById("crop-dialog").close();
      if (event.target.id !== "crop-apply") return;
      document.getElementById("crop-dialog").close();
      if (cropping && cropping.box) run(call("POST", "/api/v1/pages/" + cropping.id + "/crop", cropping.box));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("capture");
    if (!root) return;
    video = document.getElementById("camera-preview");
    panel = document.getElementById("scan-panel");
    document.getElementById("shoot").addEventListener("click", shoot);
    panel.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-edit]");
      if (button) run(edit(button));
    });
    panel.addEventListener("change", function (event) {
      var select = event.target.closest("select[data-edit=category]");
      if (!select) return;
      var id = select.closest(".scan-thumb").dataset.pageId;
      run(call("PUT", "/api/v1/pages/" + id + "/category", { category: select.value }));
    });
    // Space shoots (a foot switch or the camera's own button usually types it), except while typing.
    document.addEventListener("keydown", function (event) {
      var target = event.target, shootButton = document.getElementById("shoot");
      if (event.key !== " " || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(target.tagName) || shootButton.disabled) return;
      event.preventDefault();
      shoot();
    });
    cropEvents();
    startCamera();
  });
})();
