// After Bingan's own logout: follow on to the identity provider's logout (统一身份认证退出).
// A page of its own does this because the CSP's form-action 'self' stops the logout form's redirect.
document.addEventListener("DOMContentLoaded", () => {
  const link = document.querySelector("a[data-auto-follow]");
  if (link) window.location.replace(link.href);
});
