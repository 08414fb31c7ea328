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
// Colours chosen by administrators (theme, tags) are applied here: the Content-Security-Policy allows
// no inline style, and a value set through the style object can only ever be a colour, never more CSS.
const applyColours = (root) => {
  root.querySelectorAll("[data-color]").forEach((tag) => { tag.style.background = tag.dataset.color; });
};
const themeColour = document.documentElement.dataset.themeColor;
if (themeColour) document.documentElement.style.setProperty("--theme", themeColour);
document.addEventListener("DOMContentLoaded", () => applyColours(document));
document.addEventListener("htmx:afterSettle", (event) => applyColours(event.target));
document.addEventListener("contextmenu", (event) => {
  if (event.target.closest && event.target.closest("[data-no-menu]")) event.preventDefault();
});
document.addEventListener("click", (event) => {
  const back = event.target.closest && event.target.closest("[data-back]");
  if (back && history.length > 1) { event.preventDefault(); history.back(); }
});
// The menu's groups are <details>: one open at a time, closed by a click elsewhere or Escape.
document.addEventListener("toggle", (event) => {
  const opened = event.target;
  if (!opened.classList || !opened.classList.contains("menu-group") || !opened.open) return;
  document.querySelectorAll("details.menu-group[open]").forEach((other) => { if (other !== opened) other.open = false; });
}, true);
const closeMenus = () => document.querySelectorAll("details.menu-group[open]").forEach((group) => { group.open = false; });
document.addEventListener("click", (event) => { if (!event.target.closest || !event.target.closest("details.menu-group")) closeMenus(); });
document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeMenus(); });
