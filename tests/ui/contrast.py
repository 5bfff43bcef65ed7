"""Is the panel readable? WCAG 2 contrast of every visible text element (and icon) against
the background it is actually drawn on, measured in the browser from computed styles.

The browser resolves every colour (theme variables, `color-mix()`, alpha) by painting it on
a 1x1 canvas; the background is the first opaque one up the ancestors, with the translucent
ones on the way composited over it; an element's and its ancestors' opacity fades its text.
Disabled controls are exempt (WCAG 1.4.3), as are elements at opacity 0 (not shown)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

# WCAG 1.4.3 (text) and 1.4.11 (large text, icons: non-text contrast).
TEXT_MIN = 4.5
LARGE_MIN = 3.0

_HELPERS = """
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 1;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    const paint = css => {
        ctx.clearRect(0, 0, 1, 1);
        ctx.fillStyle = '#000';
        ctx.fillStyle = css;
        ctx.fillRect(0, 0, 1, 1);
        const d = ctx.getImageData(0, 0, 1, 1).data;
        return [d[0], d[1], d[2], d[3] / 255];
    };
    const over = (top, bottom) => {
        const a = top[3];
        return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
    };
    const background = el => {
        const layers = [];
        for (let node = el; node; node = node.parentElement) {
            const bg = paint(getComputedStyle(node).backgroundColor);
            if (bg[3] > 0) layers.push(bg);
            if (bg[3] >= 1) break;
        }
        // Nothing opaque up to <html>: the page's canvas is white.
        return layers.reverse().reduce((acc, layer) => over(layer, acc), [255, 255, 255, 1]);
    };
    const opacity = el => {
        let o = 1;
        for (let node = el; node; node = node.parentElement) {
            o *= parseFloat(getComputedStyle(node).opacity);
        }
        return o;
    };
"""

_JS = """([roots, iconSelector]) => {
    ${HELPERS}
    const name = el => el.tagName.toLowerCase()
        + (typeof el.className === 'string' && el.className
            ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    const ownText = el => [...el.childNodes]
        .filter(n => n.nodeType === Node.TEXT_NODE)
        .map(n => n.textContent.trim()).join(' ').trim();
    const out = [];
    // An element inside two regions (the drawer is in a row) counts for the first named.
    const seen = new Set();
    for (const [region, selector] of Object.entries(roots)) {
        for (const root of document.querySelectorAll(selector)) {
            for (const el of [root, ...root.querySelectorAll('*')]) {
                if (seen.has(el)) continue;
                seen.add(el);
                const text = ownText(el);
                const svg = el instanceof SVGGeometryElement;
                if (!text && !svg) continue;
                const style = getComputedStyle(el);
                if (style.visibility !== 'visible' || el.getClientRects().length === 0) continue;
                if (el.closest(':disabled')) continue;
                const fade = opacity(el);
                if (fade === 0) continue;
                const paintCss = svg ? style.fill : style.color;
                if (svg && (paintCss === 'none' || paintCss.startsWith('url'))) continue;
                const bg = background(el);
                const ink = paint(paintCss);
                const fg = over([ink[0], ink[1], ink[2], ink[3] * fade], bg);
                const px = parseFloat(style.fontSize);
                const bold = parseInt(style.fontWeight, 10) >= 700;
                out.push({
                    region,
                    element: name(el),
                    text: svg ? '<svg icon>' : text.slice(0, 40),
                    fg: fg.slice(0, 3),
                    bg: bg.slice(0, 3),
                    large: svg || el.matches(iconSelector) || px >= 24 || (px >= 18.66 && bold),
                });
            }
        }
    }
    return out;
}""".replace("    ${HELPERS}\n", _HELPERS)

# Status glyphs are icons (they repeat the status word, which is text and checked as such).
ICONS = ".mn-Step-icon, .mn-Plan-icon"


@dataclass(frozen=True)
class Sample:
    region: str
    element: str
    text: str
    fg: tuple[float, float, float]
    bg: tuple[float, float, float]
    large: bool

    @property
    def ratio(self) -> float:
        return contrast(self.fg, self.bg)

    @property
    def minimum(self) -> float:
        return LARGE_MIN if self.large else TEXT_MIN

    def __str__(self) -> str:
        return (
            f"{self.region}: {self.element} {self.text!r} {self.ratio:.2f}:1 < {self.minimum}"
            f" (fg {_hex(self.fg)} on {_hex(self.bg)})"
        )


def _rgb(value: Any) -> tuple[float, float, float]:
    r, g, b = value
    return float(r), float(g), float(b)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def _linear(channel: float) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: tuple[float, float, float]) -> float:
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def samples(page: Page, regions: dict[str, str]) -> list[Sample]:
    """Every visible text element (and SVG icon shape) under each region's selector."""
    raw: list[dict[str, Any]] = page.evaluate(_JS, [regions, ICONS])
    return [
        Sample(
            region=r["region"],
            element=r["element"],
            text=r["text"],
            fg=_rgb(r["fg"]),
            bg=_rgb(r["bg"]),
            large=bool(r["large"]),
        )
        for r in raw
    ]


def unreadable(found: list[Sample]) -> list[str]:
    return [str(s) for s in found if s.ratio < s.minimum]


def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    r, g, b = (_linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """CIE76 colour difference: about 2.3 is just noticeable; 20+ is a different colour."""
    return math.dist(_lab(a), _lab(b))


# Every status a row can have, each drawn in a throwaway row appended to the panel (one
# synchronous script: nothing re-renders in between) so all are measured in every theme.
_STATUS_JS = """(statuses) => {
    const host = document.querySelector('#mirrorneuron-nb-steps .mn-Steps');
    const list = document.createElement('ul');
    list.className = 'mn-StepList';
    host.appendChild(list);
    const probes = statuses.map(status => {
        const li = document.createElement('li');
        li.className = `mn-Step mn-status-${status}`;
        li.innerHTML = `<div class="mn-Step-line"><span class="mn-Step-icon">●</span></div>`
            + `<div class="mn-Step-meta"><span class="mn-Step-status">${status}</span></div>`;
        list.appendChild(li);
        return li;
    });
    ${HELPERS}
    const rgb = el => paint(getComputedStyle(el).color).slice(0, 3);
    const out = probes.map((li, i) => [
        statuses[i],
        rgb(li.querySelector('.mn-Step-icon')),
        rgb(li.querySelector('.mn-Step-status')),
        background(li).slice(0, 3),
    ]);
    list.remove();
    return out;
}""".replace("    ${HELPERS}\n", _HELPERS)


def status_samples(page: Page, statuses: list[str]) -> dict[str, Sample]:
    """Each status's word in a row, as drawn on the panel (its icon must share the colour)."""
    out: dict[str, Sample] = {}
    for status, icon, word, bg in page.evaluate(_STATUS_JS, statuses):
        assert icon == word, f"{status}: icon {icon} but word {word}"
        out[status] = Sample("status", f"mn-status-{status}", status, _rgb(word), _rgb(bg), False)
    return out


# Graphics that carry meaning by colour alone (a timeline bar against its track): 3:1.
_FILLS_JS = """(selector) => {
    ${HELPERS}
    return [...document.querySelectorAll(selector)]
        .filter(el => el.getClientRects().length > 0)
        .map(el => [
            el.className,
            over(paint(getComputedStyle(el).backgroundColor), background(el.parentElement)),
            background(el.parentElement),
        ]);
}""".replace("    ${HELPERS}\n", _HELPERS)


def fills(page: Page, selector: str) -> list[Sample]:
    """The background colour of each visible element matching `selector` (as a non-text
    sample, 3:1) against what is behind it."""
    return [
        Sample("fill", element, "", _rgb(fg[:3]), _rgb(bg[:3]), True)
        for element, fg, bg in page.evaluate(_FILLS_JS, selector)
    ]
