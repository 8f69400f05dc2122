/// The drill report's style sheet, inline in the page (the page loads nothing).
///
/// System fonts only; colours that keep a 4.5:1 contrast with their text; verdicts carry a
/// sign and a word as well as a colour; long names wrap anywhere rather than widen the page;
/// the page prints on A4 with the charts kept whole.
enum DrillHTMLStyle {
    static let css = """
        :root { color-scheme: light; --pass: #1b6e33; --fail: #b3261e; --unknown: #8a5a00; --ink: #1d1d1f; --muted: #5f6368; --rule: #d5d7db; --measure: #1f5fa8; }
        * { box-sizing: border-box; }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); margin: 0 auto; padding: 24px; max-width: 1200px; }
        h1, h2, h3 { line-height: 1.2; }
        h2 { margin-top: 2em; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
        h3 small { font-weight: normal; color: var(--muted); font-size: 0.8em; }
        code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
        pre { background: #f4f5f7; border: 1px solid var(--rule); padding: 10px 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
        .verdict { border-radius: 10px; padding: 18px 24px; color: #fff; }
        .verdict p { margin: 0.4em 0; }
        .verdict .kicker { text-transform: uppercase; letter-spacing: 0.06em; font-size: 0.85em; opacity: 0.9; }
        .verdict h1 { font-size: 3.2em; margin: 0.1em 0 0.2em; letter-spacing: 0.04em; }
        .verdict-pass { background: var(--pass); }
        .verdict-fail { background: var(--fail); }
        .verdict-unknown { background: var(--unknown); }
        .verdict .v { background: #fff; }
        .v { display: inline-block; font-weight: 600; padding: 0 6px; border-radius: 4px; white-space: nowrap; border: 1px solid currentColor; }
        .v-pass { color: var(--pass); }
        .v-fail { color: var(--fail); background: #fdecea; }
        .v-unknown { color: var(--unknown); background: #fff4dc; }
        table { border-collapse: collapse; width: 100%; margin: 0.6em 0 1.2em; }
        th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--rule); overflow-wrap: break-word; }
        thead th { background: #f4f5f7; border-bottom: 2px solid var(--rule); white-space: nowrap; }
        table.figures th { width: 11em; }
        td.num { text-align: right; white-space: nowrap; }
        .path { overflow-wrap: anywhere; min-width: 14em; max-width: 28em; }
        .text { overflow-wrap: anywhere; min-width: 12em; }
        /* A name of thousands of characters (hostile or absurd) scrolls in its cell on screen rather than push the table away; it is printed whole. */
        .name { display: block; max-height: 9em; overflow-y: auto; }
        tbody.mailbox th { width: 30%; font-weight: 600; }
        tbody.mailbox + tbody.mailbox { border-top: 2px solid var(--rule); }
        .meta { display: block; font-weight: normal; color: var(--muted); font-size: 0.85em; }
        .deviation td:last-child { font-weight: 600; }
        .error { color: var(--fail); font-weight: 600; }
        .note, .none { color: var(--muted); }
        ul.assumptions { margin: 0; padding-left: 1.2em; color: var(--muted); }
        figure { margin: 1em 0 2em; }
        figcaption { color: var(--muted); font-size: 0.9em; max-width: 720px; }
        svg.chart { max-width: 100%; height: auto; background: #fff; }
        svg.chart .grid line { stroke: #e6e8eb; stroke-width: 1; }
        svg.chart .axis { stroke: #6b7075; stroke-width: 1; }
        svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #3c4043; }
        svg.chart .axis-label { font-size: 12px; fill: var(--ink); }
        svg.chart .objective { fill: none; stroke: var(--fail); stroke-width: 2; stroke-dasharray: 7 4; }
        svg.chart .objective-label { fill: var(--fail); font-weight: 600; }
        svg.chart .measure { fill: none; stroke: var(--measure); stroke-width: 2; }
        svg.chart .point.within { fill: var(--measure); stroke: #fff; stroke-width: 1.5; }
        svg.chart .point.over { fill: var(--fail); stroke: #fff; stroke-width: 1.5; }
        svg.chart .point.current { stroke: var(--ink); stroke-width: 2; }
        svg.chart .current-label { font-weight: 600; }
        svg.chart .secondary-line { fill: none; stroke: #5b3e96; stroke-width: 1.5; stroke-dasharray: 2 3; }
        svg.chart .secondary { fill: #fff; stroke: #5b3e96; stroke-width: 1.8; }
        svg.chart .secondary.over { stroke: var(--fail); }
        .key-secondary { color: #5b3e96; font-weight: 700; }
        svg.chart .missing { fill: var(--unknown); font-weight: 700; font-size: 13px; }
        .key-line, .key-within { color: var(--measure); font-weight: 700; }
        .key-over, .key-objective { color: var(--fail); font-weight: 700; }
        @media print { body { padding: 0; max-width: none; } .name { max-height: none; overflow: visible; } figure, tr { break-inside: avoid; } .verdict { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
        """
}
