// The seal page: once the package job's progress fragment (it refreshes itself) reports "done",
// reload so the download link of the finished package appears.
document.addEventListener("htmx:afterSettle", function () {
  var box = document.getElementById("seal-package");
  if (!box || box.dataset.packageState === "ready") return;
  if (box.querySelector('.job-progress[data-job-state="done"]')) window.location.reload();
});
