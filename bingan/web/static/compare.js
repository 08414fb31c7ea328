// 版本对比: changed regions boxed on both renders, next / previous change, overlay of the new
// version on the old one. Regions come with the page (data-regions) or, for later pages, from
// GET /api/v1/documents/{id}/compare/regions.
(function () {
  "use strict";

  function boxes(section, regions) {
    section.querySelectorAll(".side .shot").forEach(function (shot) {
      shot.querySelectorAll(".region").forEach(function (old) { old.remove(); });
      regions.forEach(function (r) {
        var box = document.createElement("div");
        box.className = "region";
        box.style.left = (r.x * 100) + "%";
        box.style.top = (r.y * 100) + "%";
        box.style.width = (r.w * 100) + "%";
        box.style.height = (r.h * 100) + "%";
        shot.appendChild(box);
      });
    });
    section.dataset.boxed = String(regions.length);
  }

  function loadRegions(bar, section) {
    var url = "/api/v1/documents/" + bar.dataset.document + "/compare/regions?a=" + bar.dataset.a +
      "&b=" + bar.dataset.b + "&page=" + section.dataset.bPage;
    section.dataset.regionsLazy = "";
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.json() : { regions: [] };
    }).then(function (answer) { boxes(section, answer.regions); });
  }

  function setUp() {
    var bar = document.getElementById("compare-bar");
    if (!bar) { return; }
    var sections = Array.prototype.slice.call(document.querySelectorAll(".compare-pair"));
    var changes = sections.filter(function (s) { return s.classList.contains("change"); });
    var position = -1;
    var shown = document.getElementById("change-position");

    sections.forEach(function (section) {
      if (section.dataset.regions) { boxes(section, JSON.parse(section.dataset.regions)); }
    });
    var lazy = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting && entry.target.dataset.regionsLazy) { loadRegions(bar, entry.target); }
      });
    });
    sections.forEach(function (section) { if (section.dataset.regionsLazy) { lazy.observe(section); } });

    function go(step) {
      if (!changes.length) { shown.textContent = "没有变化"; return; }
      position = (position + step + changes.length) % changes.length;
      changes.forEach(function (c) { c.classList.remove("current"); });
      var target = changes[position];
      target.classList.add("current");
      target.scrollIntoView({ block: "start" });
      shown.textContent = "第 " + (position + 1) + " / " + changes.length + " 处";
    }
    document.getElementById("next-change").addEventListener("click", function () { go(1); });
    document.getElementById("prev-change").addEventListener("click", function () { go(-1); });

    var hide = document.getElementById("hide-same");
    function hideSame() { document.body.classList.toggle("hide-same", hide.checked); }
    hide.addEventListener("change", hideSame);
    hideSame();

    var overlay = document.getElementById("overlay");
    function blend() {
      document.querySelectorAll(".overlay-img").forEach(function (img) {
        img.style.opacity = String(overlay.value / 100);
      });
    }
    overlay.addEventListener("input", blend);
    blend();

    document.addEventListener("keydown", function (event) {
      if (event.target.closest("input, select, textarea")) { return; }
      if (event.key === "n" || event.key === "j") { go(1); }
      if (event.key === "p" || event.key === "k") { go(-1); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
