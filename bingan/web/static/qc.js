// QC worklist: "select all" ticks every record of the page for batch pass.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("qc-select-all");
  if (!all) return;
  all.addEventListener("change", () => {
    document.querySelectorAll(".qc-pick").forEach((box) => { box.checked = all.checked; });
  });
});
