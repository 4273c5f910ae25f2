/* The board's behaviour: drag and drop (SortableJS) and "Move to..." through the move service,
   refusals shown in words with the card snapped back, the card drawer (htmx), and cheap polling
   of the board's version so that two people see each other's moves. No inline scripts: this file
   reads what it needs from data- attributes. */
(function () {
  "use strict";

  var shell = document.querySelector(".board-shell");
  if (!shell) return;
  var slug = shell.dataset.board;
  var writable = shell.dataset.writable === "1";
  var version = shell.dataset.version;
  var columnsBox = document.getElementById("board-columns");
  var drawer = document.getElementById("drawer");
  var toast = document.getElementById("toast");
  var menu = document.getElementById("move-menu");
  var dragging = false;
  var refreshing = false;
  var POLL_MS = 4000;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  function moveUrl(key) {
    return "/boards/" + encodeURIComponent(slug) + "/cards/" + encodeURIComponent(key) + "/move";
  }

  function cardUrl(key) {
    return "/boards/" + encodeURIComponent(slug) + "/cards/" + encodeURIComponent(key) + "/";
  }

  /* --- messages ---------------------------------------------------------------------------- */

  var toastTimer = null;

  function showToast(text, options) {
    options = options || {};
    toast.querySelector(".toast-text").textContent = text;
    var open = toast.querySelector(".toast-open");
    if (options.checklist) {
      open.hidden = false;
      open.setAttribute("href", options.checklist);
      open.dataset.key = options.key || "";
    } else {
      open.hidden = true;
    }
    toast.classList.toggle("ok", !!options.ok);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, options.ok ? 3000 : 12000);
  }

  toast.querySelector(".toast-close").addEventListener("click", function () { toast.hidden = true; });
  toast.querySelector(".toast-open").addEventListener("click", function (event) {
    event.preventDefault();
    toast.hidden = true;
    openDrawer(this.dataset.key, "#checklist");
  });

  /* --- the drawer -------------------------------------------------------------------------- */

  function openDrawer(key, anchor) {
    htmx.ajax("GET", cardUrl(key), { target: "#drawer", swap: "innerHTML" }).then(function () {
      if (anchor) {
        var section = drawer.querySelector(anchor);
        if (section) section.scrollIntoView({ block: "start" });
      }
    });
  }

  function closeDrawer() {
    drawer.hidden = true;
    drawer.innerHTML = "";
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === drawer) {
      drawer.hidden = false;
      var heading = drawer.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
  });

  drawer.addEventListener("click", function (event) {
    if (event.target.closest(".drawer-close")) closeDrawer();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (!menu.hidden) { closeMenu(); return; }
    if (!drawer.hidden) closeDrawer();
  });

  /* --- moving ------------------------------------------------------------------------------ */

  function neighbourKey(element, direction) {
    var sibling = direction === "next" ? element.nextElementSibling : element.previousElementSibling;
    while (sibling && !sibling.classList.contains("card")) {
      sibling = direction === "next" ? sibling.nextElementSibling : sibling.previousElementSibling;
    }
    return sibling ? sibling.dataset.key : "";
  }

  function move(card, columnId, neighbours, undo) {
    var body = new URLSearchParams();
    body.set("to_column", columnId);
    body.set("version", card.dataset.version || "");
    if (neighbours && neighbours.before) body.set("before", neighbours.before);
    if (neighbours && neighbours.after) body.set("after", neighbours.after);
    return fetch(moveUrl(card.dataset.key), {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: body,
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        var data = result.data;
        if (result.ok) {
          card.dataset.version = data.version;
          card.dataset.column = columnId;
          card.classList.add("just-moved");
          if (data.soft_limit_exceeded) showToast(data.detail);
          refreshColumns();
          return true;
        }
        if (undo) undo();
        card.classList.add("snap-back");
        setTimeout(function () { card.classList.remove("snap-back"); }, 600);
        var options = {};
        if (data.code === "gate_blocked") {
          options = { checklist: data.checklist_url, key: card.dataset.key };
        }
        showToast(data.detail || "The move was refused.", options);
        if (data.code === "stale_version" || data.code === "item_discarded") refreshColumns(true);
        return false;
      })
      .catch(function () {
        if (undo) undo();
        showToast("The move could not be sent: check your connection and try again.");
        return false;
      });
  }

  function initSortable() {
    if (!writable || typeof Sortable === "undefined") return;
    columnsBox.querySelectorAll("ol.cards").forEach(function (list) {
      Sortable.create(list, {
        group: "lane-" + list.dataset.lane,
        draggable: ".card",
        filter: "a, button, .more",
        preventOnFilter: false,
        animation: 120,
        // Mouse and touch events rather than the browser's native drag and drop: the same
        // feel everywhere, a click on a card's key still opens it, and scripts can drive it.
        forceFallback: true,
        fallbackTolerance: 4,
        onStart: function () { dragging = true; },
        onEnd: function (event) {
          dragging = false;
          var card = event.item;
          var from = event.from;
          var oldIndex = event.oldIndex;
          var to = event.to;
          if (from === to && event.oldIndex === event.newIndex) return;
          var undo = function () {
            var reference = from.children[oldIndex] || null;
            from.insertBefore(card, reference);
          };
          move(card, to.dataset.column, {
            before: neighbourKey(card, "next"),
            after: neighbourKey(card, "previous"),
          }, undo);
        },
      });
    });
  }

  /* --- "Move to...": the keyboard and screen-reader way ------------------------------------ */

  var menuCard = null;
  var menuOpener = null;

  function openMenu(button) {
    menuCard = button.closest(".card");
    menuOpener = button;
    menu.querySelector(".move-menu-key").textContent = menuCard.dataset.key;
    menu.querySelectorAll("button").forEach(function (item) {
      var current = item.dataset.column === menuCard.dataset.column;
      item.classList.toggle("current", current);
      item.setAttribute("aria-current", current ? "true" : "false");
    });
    var box = button.getBoundingClientRect();
    menu.hidden = false;
    var top = Math.min(box.bottom + 4, window.innerHeight - menu.offsetHeight - 8);
    var left = Math.min(box.left, window.innerWidth - menu.offsetWidth - 8);
    menu.style.top = Math.max(8, top) + "px";
    menu.style.left = Math.max(8, left) + "px";
    var first = menu.querySelector("button:not(.current)") || menu.querySelector("button");
    first.focus();
  }

  function closeMenu() {
    menu.hidden = true;
    if (menuOpener && document.body.contains(menuOpener)) menuOpener.focus();
    menuCard = null;
  }

  columnsBox.addEventListener("click", function (event) {
    var button = event.target.closest(".move-to");
    if (button) {
      event.preventDefault();
      openMenu(button);
    }
  });

  menu.addEventListener("click", function (event) {
    var item = event.target.closest("button[data-column]");
    if (!item || !menuCard) return;
    var card = menuCard;
    closeMenu();
    if (item.dataset.column === card.dataset.column) return;
    move(card, item.dataset.column, null, null);
  });

  menu.addEventListener("keydown", function (event) {
    var items = Array.prototype.slice.call(menu.querySelectorAll("button"));
    var index = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown") { items[(index + 1) % items.length].focus(); event.preventDefault(); }
    if (event.key === "ArrowUp") { items[(index - 1 + items.length) % items.length].focus(); event.preventDefault(); }
    if (event.key === "Tab") closeMenu();
  });

  document.addEventListener("click", function (event) {
    if (!menu.hidden && !menu.contains(event.target) && !event.target.closest(".move-to")) closeMenu();
  });

  /* --- keeping up with other people -------------------------------------------------------- */

  function refreshColumns(force) {
    if (refreshing || (dragging && !force)) return;
    refreshing = true;
    var params = new URLSearchParams(window.location.search);
    params.set("partial", "columns");
    var scroll = columnsBox.scrollLeft;
    fetch(shell.dataset.columnsUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        var tag = response.headers.get("ETag");
        return response.text().then(function (html) { return { html: html, tag: tag }; });
      })
      .then(function (result) {
        if (dragging) return;
        columnsBox.innerHTML = result.html;
        var grid = columnsBox.querySelector(".board-grid");
        if (grid) version = grid.dataset.version;
        columnsBox.scrollLeft = scroll;
        htmx.process(columnsBox);
        initSortable();
      })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { refreshing = false; });
  }

  function poll() {
    if (document.hidden || dragging) return;
    fetch(shell.dataset.versionUrl, {
      headers: { "If-None-Match": '"' + version + '"' },
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (response.status === 304) return null;
        if (!response.ok) return null;
        return response.json();
      })
      .then(function (data) {
        if (data && data.version !== version) refreshColumns();
      })
      .catch(function () { /* offline for a moment */ });
  }

  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
  document.body.addEventListener("board-changed", function () { refreshColumns(true); });

  /* --- adding cards, filters --------------------------------------------------------------- */

  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.classList && form.classList.contains("add-form") && event.detail.successful) {
      form.reset();
      var details = form.closest("details");
      if (details) details.open = false;
      var slot = details && details.querySelector(".form-slot");
      if (slot) slot.innerHTML = "";
      showToast("Card added.", { ok: true });
    }
  });

  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("change", function (event) {
      if (event.target.matches("input[type=checkbox], select")) filters.submit();
    });
  }

  initSortable();
})();
