// osflow console: the board's refresh, the CPF/CNPJ check as typed, the photo upload straight to the blob
// store. Same-origin file (the CSP allows no inline script); every page works without it except the upload.
"use strict";
(function () {
  // The board refreshes its columns every data-refresh seconds (same filters), unless the tab is hidden.
  var board = document.getElementById("quadro");
  if (board) {
    var every = (parseInt(board.getAttribute("data-refresh"), 10) || 15) * 1000;
    setInterval(function () {
      if (document.hidden) return;
      var url = new URL(window.location.href);
      url.searchParams.set("parcial", "1");
      fetch(url.toString(), { credentials: "same-origin" }).then(function (r) {
        if (r.ok) return r.text();
        throw new Error("status " + r.status);
      }).then(function (html) {
        var current = document.getElementById("quadro");
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("quadro");
        if (current && next) current.replaceWith(next);
      }).catch(function () {});
    }, every);
  }

  // CPF/CNPJ checked as typed, by the server's own parser.
  var doc = document.querySelector("input[data-check=documento]");
  if (doc) {
    var msg = document.getElementById("documento-msg");
    var timer = null;
    doc.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var v = doc.value.trim();
        if (!v) { msg.textContent = ""; doc.setCustomValidity(""); return; }
        fetch("/documento?valor=" + encodeURIComponent(v), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (j) {
            msg.textContent = j.mensagem;
            doc.setCustomValidity(j.ok ? "" : j.mensagem);
          }).catch(function () {});
      }, 250);
    });
  }

  // Photos and files: the order records the attachment and answers a signed upload URL; the file goes there.
  document.querySelectorAll("form.upload").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = form.querySelector("input[type=file]");
      var file = input.files[0];
      var status = form.querySelector(".upload-status");
      if (!file) { status.textContent = "Escolha um arquivo."; return; }
      var max = Number(input.getAttribute("data-max-bytes")) || Infinity;
      if (file.size > max) {
        status.textContent = "Arquivo grande demais: o limite é " + Math.floor(max / 1048576) + " MB.";
        return;
      }
      var data = new URLSearchParams(new FormData(form));
      data.delete("file");
      data.set("content_type", file.type || "application/octet-stream");
      status.textContent = "Enviando…";
      fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      }).then(function (r) {
        return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || "Falha"); return j; });
      }).then(function (j) {
        // The signed form (S3's presigned POST: the policy bounds the type and the size), then the file, last.
        var upload = new FormData();
        Object.keys(j.upload.fields).forEach(function (name) { upload.append(name, j.upload.fields[name]); });
        upload.append("file", file);
        return fetch(j.upload.url, { method: "POST", body: upload })
          .then(function (r) { if (!r.ok) throw new Error("O envio do arquivo falhou."); window.location.assign(j.done); });
      }).catch(function (e) { status.textContent = e.message; });
    });
  });
})();

// The A1 certificate: the chosen file goes in the form as base64 (the API's certificate.pkcs12).
(function () {
  document.querySelectorAll("form.cert").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var input = form.querySelector("input[type=file]");
      var hidden = form.querySelector("input[name=pkcs12]");
      if (!input.files[0] || hidden.value) return;
      ev.preventDefault();
      var reader = new FileReader();
      reader.onload = function () {
        hidden.value = String(reader.result).split(",")[1] || "";
        form.submit();
      };
      reader.readAsDataURL(input.files[0]);
    });
  });
})();

// An NFS-e issued elsewhere: its chosen file (PDF or XML) goes in the form as base64 with its type (the API's
// file.data and file.content_type); without a file the NFS-e is recorded without one.
(function () {
  document.querySelectorAll("form.nfse-file").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var input = form.querySelector("input[type=file]");
      var data = form.querySelector("input[name=file_data]");
      var type = form.querySelector("input[name=file_type]");
      var file = input.files[0];
      if (!file || data.value) return;
      ev.preventDefault();
      var reader = new FileReader();
      reader.onload = function () {
        data.value = String(reader.result).split(",")[1] || "";
        type.value = file.type || (/\.xml$/i.test(file.name) ? "application/xml" : "application/pdf");
        input.disabled = true;
        form.submit();
      };
      reader.readAsDataURL(file);
    });
  });
})();
