// Starts the Swagger UI of /api/docs from a file: the Content-Security-Policy allows no inline script.
// "Try it out" sends the page's CSRF token, as the application's own pages do.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  requestInterceptor: (request) => {
    request.headers["X-CSRF-Token"] = root.dataset.csrf;
    return request;
  },
});
