// Keyboard navigation in the page viewer (← → PageUp PageDown, + - zoom) and the search box (/).
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
  const click = (id) => { const link = document.getElementById(id); if (link) { event.preventDefault(); link.click(); } };
  if (event.key === "ArrowRight" || event.key === "PageDown") click("next-page");
  if (event.key === "ArrowLeft" || event.key === "PageUp") click("prev-page");
  if (event.key === "+" || event.key === "=") click("zoom-in");
  if (event.key === "-") click("zoom-out");
  if (event.key === "/") { const box = document.querySelector("input[name=q]"); if (box) { event.preventDefault(); box.focus(); } }
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-zoom]");
  if (!button) return;
  const img = document.getElementById("page-image");
  if (!img) return;
  const width = Math.max(400, Math.min(2400, img.clientWidth * parseFloat(button.dataset.zoom)));
  img.style.width = width + "px";
  img.style.maxWidth = "none";
});
