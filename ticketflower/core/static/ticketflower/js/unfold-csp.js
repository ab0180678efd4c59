/*
 * unfold's admin under TicketFlower's Content-Security-Policy (no 'unsafe-eval').
 *
 * Alpine runs as Alpine's CSP build: attribute expressions are parsed, not eval'd, and reach
 * only Alpine data and magics, never globals (window, document, the functions of unfold's
 * app.js). This file registers, as Alpine data, what unfold's markup expects to find there.
 * It loads before Alpine; unfold's app.js is loaded by then (templates/unfold/layouts/skeleton.html).
 */
(() => {
	"use strict";

	// unfold keeps the sidebar closed at 1280 px and narrower; TicketFlower shows it from
	// 1280 px (where unfold's CSS already lays it out beside the page) and keeps the menu
	// button for narrower screens.
	const SIDEBAR_MIN_WIDTH = 1280;
	const wide = () => window.innerWidth >= SIDEBAR_MIN_WIDTH;
	const sidebarWanted = () => wide() && localStorage.getItem("sidebarOpen") !== "0";

	// unfold's markup reads window.location (the change form's action) and navigates by
	// assigning window.location.href (pagination links). The CSP build refuses the real
	// window, so a plain object with just these stands in for it.
	const pageWindow = {
		location: {
			get pathname() {
				return window.location.pathname;
			},
			get search() {
				return window.location.search;
			},
			get hash() {
				return window.location.hash;
			},
			get href() {
				return window.location.href;
			},
			set href(url) {
				window.location.href = url;
			},
		},
	};

	document.addEventListener("alpine:init", () => {
		// <html>: unfold's theme() with the sidebar rule above.
		Alpine.data("tfTheme", function () {
			const data = theme(this.$el.dataset.theme || "auto");
			data.sidebarOpen = sidebarWanted();
			data.sidebarToggle = function () {
				this.sidebarOpen = !this.sidebarOpen;
				if (wide()) {
					localStorage.setItem("sidebarOpen", this.sidebarOpen ? "1" : "0");
				}
			};
			data.themeBindings = {
				...data.themeBindings,
				["x-resize.window"]() {
					this.sidebarOpen = sidebarWanted();
				},
			};
			return data;
		});

		// <body>: the active change-form tab (from the URL's #fragment, else the first tab)
		// and the globals unfold's markup names.
		Alpine.data("tfPage", function () {
			const primaryTab = this.$el.dataset.primaryTab;
			return {
				activeTab: primaryTab === undefined ? "" : getCurrentTab() || primaryTab,
				window: pageWindow,
				sortRecords,
				moveRecords,
			};
		});

		Alpine.data("searchCommand", searchCommand);

		// The sidebar's drag handle (admin/nav_sidebar.html).
		Alpine.data("tfSidebarResize", () => ({
			min: 220,
			max: 360,
			resizing: false,
			resize(event) {
				if (!this.resizing) {
					return;
				}
				const rtl = getComputedStyle(this.$el).direction === "rtl";
				const edge = rtl
					? document.getElementById("nav-sidebar").getBoundingClientRect().right - event.clientX
					: event.clientX;
				this.sidebarWidth = Math.min(this.max, Math.max(this.min, edge));
				localStorage.setItem("sidebarWidth", this.sidebarWidth);
			},
		}));
	});
})();
