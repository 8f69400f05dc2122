import DRRepository
import Foundation

/// The drill report's charts: one measure (achieved RPO, projected RTO) over past drills,
/// against its objective, as inline SVG that needs no script and no font of its own.
///
/// Drills are placed by their time (not their index), so that a gap in the schedule shows as
/// a gap. The y axis starts at zero (a chart that starts elsewhere exaggerates), in the one
/// unit that suits the largest value or objective, with round steps. The objective is drawn
/// as a dashed step line through each drill's objective of the time, so a changed objective
/// shows where it changed. A point over its objective is a red diamond, one within it a blue
/// circle (shape as well as colour), and every point has a `<title>` (the browser's tooltip,
/// read by screen readers) with the drill, its time, the value and the objective.
enum DrillCharts {
    struct Sample {
        var sequence: Int?
        var time: String
        var date: Date
        var value: Double?
        /// A second measure of the same quantity (the canary's age beside the achieved RPO).
        var secondary: Double?
        var objective: Double
        var verdict: DrillResults.Verdict
        var isCurrent: Bool
    }

    struct Chart {
        /// The element id ("chart-rpo").
        var id: String
        /// "Achieved RPO": the chart's title.
        var title: String
        /// "achieved RPO (worst mailbox)": the measure in a point's tooltip.
        var measure: String
        /// "RPO objective".
        var objectiveName: String
        /// "canary age": the second measure's name, when the chart has one.
        var secondaryMeasure: String? = nil
        var samples: [Sample]
    }

    // The drawing's geometry, in SVG user units (= CSS pixels at the drawn size).
    private static let width = 720.0
    private static let height = 300.0
    private static let left = 78.0
    private static let right = 600.0
    private static let top = 20.0
    private static let bottom = 240.0

    /// Samples of the history and the current drill, oldest first; points with an unreadable
    /// time are left out (and counted by the caller's note).
    static func samples(history: [DrillHistoryPoint], current: DrillHistoryPoint,
                        value: (DrillHistoryPoint) -> Double?, secondary: (DrillHistoryPoint) -> Double? = { _ in nil },
                        objective: (DrillHistoryPoint) -> Int64) -> [Sample] {
        // The current drill once, even when the caller's history already ends with it.
        let past = history.filter { $0.time != current.time }
        let all = past.map { ($0, false) } + [(current, true)]
        return all.compactMap { point, isCurrent in
            guard let date = Timestamps.parse(point.time) else { return nil }
            return Sample(sequence: point.sequence, time: point.time, date: date, value: value(point), secondary: secondary(point),
                          objective: Double(objective(point)), verdict: point.verdict, isCurrent: isCurrent)
        }.sorted { $0.date < $1.date }
    }

    static func svg(_ chart: Chart) -> String {
        let titleID = chart.id + "-title"
        var out = #"<svg class="chart" id="\#(chart.id)" viewBox="0 0 \#(n(width)) \#(n(height))" width="\#(n(width))" height="\#(n(height))" role="img" aria-labelledby="\#(titleID)">"#
        out += "<title id=\"\(titleID)\">\(HTMLText.escape(chart.title)) over \(chart.samples.count) drill(s), against the objective</title>"
        let values = (chart.samples.compactMap(\.value) + chart.samples.compactMap(\.secondary)).filter { $0.isFinite && $0 >= 0 }
        let largest = max(values.max() ?? 0, chart.samples.map(\.objective).max() ?? 0, 1)
        let unit = Unit.fitting(largest)
        let (step, top) = steps(upTo: largest / unit.seconds * 1.12)
        let decimals = step < 1 ? Int((-log10(step)).rounded(.up)) : 0
        func y(_ seconds: Double) -> Double { bottom - (seconds / unit.seconds) / top * (bottom - Self.top) }

        let dates = chart.samples.map(\.date)
        let first = dates.first ?? Date(timeIntervalSince1970: 0)
        let span = (dates.last ?? first).timeIntervalSince(first)
        let pad = (right - left) * 0.04
        func x(_ date: Date) -> Double {
            span <= 0 ? (left + right) / 2 : left + pad + date.timeIntervalSince(first) / span * (right - left - 2 * pad)
        }

        // Grid and y axis, in the unit chosen.
        out += #"<g class="grid">"#
        var tick = 0.0
        while tick <= top + step / 2 {
            let ty = bottom - tick / top * (bottom - Self.top)
            out += #"<line x1="\#(n(left))" y1="\#(n(ty))" x2="\#(n(right))" y2="\#(n(ty))"/>"#
            out += #"<text class="tick" x="\#(n(left - 8))" y="\#(n(ty + 4))" text-anchor="end">\#(String(format: "%.\(decimals)f", tick))</text>"#
            tick += step
        }
        out += "</g>"
        out += #"<line class="axis" x1="\#(n(left))" y1="\#(n(Self.top))" x2="\#(n(left))" y2="\#(n(bottom))"/>"#
        out += #"<line class="axis" x1="\#(n(left))" y1="\#(n(bottom))" x2="\#(n(right))" y2="\#(n(bottom))"/>"#
        out += #"<text class="axis-label" transform="translate(18 \#(n((Self.top + bottom) / 2))) rotate(-90)" text-anchor="middle">\#(HTMLText.escape(chart.title)) (\#(unit.name))</text>"#
        out += #"<text class="axis-label" x="\#(n((left + right) / 2))" y="\#(n(height - 8))" text-anchor="middle">drill start (UTC)</text>"#

        // x ticks at every drill, labels at up to seven of them.
        let withTime = span < 2 * 86_400
        let labelled = labelledIndices(count: chart.samples.count, most: withTime ? 5 : 7)
        for (index, sample) in chart.samples.enumerated() {
            let tx = x(sample.date)
            out += #"<line class="axis" x1="\#(n(tx))" y1="\#(n(bottom))" x2="\#(n(tx))" y2="\#(n(bottom + 4))"/>"#
            if labelled.contains(index) {
                out += #"<text class="tick" x="\#(n(tx))" y="\#(n(bottom + 18))" text-anchor="middle">\#(DrillFormat.axisLabel(sample.date, withTime: withTime))</text>"#
            }
        }

        // This drill named under the axis, where no data can be.
        if let current = chart.samples.last(where: \.isCurrent) {
            out += #"<text class="current-label" x="\#(n(x(current.date)))" y="\#(n(bottom + 31))" text-anchor="middle">this drill</text>"#
        }

        guard !chart.samples.isEmpty else {
            return out + #"<text class="note" x="\#(n((left + right) / 2))" y="\#(n((Self.top + bottom) / 2))" text-anchor="middle">no drill to plot</text></svg>"#
        }

        // The objective: a step line through each drill's objective, edge to edge.
        var path = "M\(n(left)) \(n(y(chart.samples[0].objective)))"
        for sample in chart.samples {
            path += " H\(n(x(sample.date))) V\(n(y(sample.objective)))"
        }
        path += " H\(n(right))"
        let objectiveNow = chart.samples.last?.objective ?? 0
        out += #"<path class="objective" d="\#(path)"><title>\#(HTMLText.escape(chart.objectiveName)): \#(HTMLText.escape(DrillFormat.duration(objectiveNow)))</title></path>"#
        out += #"<text class="objective-label" x="\#(n(right + 6))" y="\#(n(y(objectiveNow) + 4))">objective \#(HTMLText.escape(DrillFormat.duration(objectiveNow)))</text>"#

        // The measure: a line through consecutive measured drills (broken where one was not measured).
        var segments: [[(Double, Double)]] = [[]]
        for sample in chart.samples {
            if let value = sample.value, value.isFinite, value >= 0 {
                segments[segments.count - 1].append((x(sample.date), y(min(value, top * unit.seconds))))
            } else if !(segments.last ?? []).isEmpty {
                segments.append([])
            }
        }
        for segment in segments where segment.count > 1 {
            out += #"<polyline class="measure" points="\#(segment.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " "))"/>"#
        }

        if let secondaryMeasure = chart.secondaryMeasure {
            out += secondarySeries(chart.samples, measure: secondaryMeasure, x: x, y: y)
        }
        for sample in chart.samples {
            out += point(sample, chart: chart, x: x(sample.date), y: y)
        }
        return out + "</svg>"
    }

    /// One drill's mark with its tooltip.
    private static func point(_ sample: Sample, chart: Chart, x: Double, y: (Double) -> Double) -> String {
        let drill = sample.sequence.map { "Drill #\($0)" } ?? "Drill"
        let current = sample.isCurrent ? " (this report)" : ""
        let when = DrillFormat.time(sample.time)
        guard let value = sample.value, value.isFinite, value >= 0 else {
            let tip = "\(drill)\(current), \(when): \(chart.measure) not measured; objective \(DrillFormat.duration(sample.objective)); drill verdict \(sample.verdict.rawValue)"
            return #"<text class="missing" x="\#(n(x))" y="\#(n(bottom - 6))" text-anchor="middle"><title>\#(HTMLText.escape(tip))</title>?</text>"#
        }
        let over = value > sample.objective
        let tip = "\(drill)\(current), \(when): \(chart.measure) \(DrillFormat.duration(value)), objective \(DrillFormat.duration(sample.objective)) — \(over ? "over the objective" : "within the objective"); drill verdict \(sample.verdict.rawValue)"
        let py = y(value)
        let r = sample.isCurrent ? 7.0 : over ? 5.5 : 4.5
        let classes = "point \(over ? "over" : "within")\(sample.isCurrent ? " current" : "")"
        var mark: String
        if over {
            mark = #"<path class="\#(classes)" d="M\#(n(x)) \#(n(py - r - 1)) L\#(n(x + r + 1)) \#(n(py)) L\#(n(x)) \#(n(py + r + 1)) L\#(n(x - r - 1)) \#(n(py)) Z">"#
            mark += "<title>\(HTMLText.escape(tip))</title></path>"
        } else {
            mark = #"<circle class="\#(classes)" cx="\#(n(x))" cy="\#(n(py))" r="\#(n(r))"><title>\#(HTMLText.escape(tip))</title></circle>"#
        }
        return mark
    }

    /// The second measure: a dotted line through hollow squares, each with its tooltip.
    private static func secondarySeries(_ samples: [Sample], measure: String, x: (Date) -> Double, y: (Double) -> Double) -> String {
        let measured = samples.filter { ($0.secondary ?? -1) >= 0 && $0.secondary?.isFinite == true }
        var out = ""
        if measured.count > 1 {
            out += #"<polyline class="secondary-line" points="\#(measured.map { "\(n(x($0.date))),\(n(y($0.secondary ?? 0)))" }.joined(separator: " "))"/>"#
        }
        for sample in measured {
            let value = sample.secondary ?? 0
            let over = value > sample.objective
            let drill = sample.sequence.map { "Drill #\($0)" } ?? "Drill"
            let tip = "\(drill)\(sample.isCurrent ? " (this report)" : ""), \(DrillFormat.time(sample.time)): \(measure) \(DrillFormat.duration(value)), objective \(DrillFormat.duration(sample.objective)) — \(over ? "over the objective" : "within the objective")"
            let px = x(sample.date), py = y(value)
            out += #"<rect class="secondary \#(over ? "over" : "within")" x="\#(n(px - 3.5))" y="\#(n(py - 3.5))" width="7" height="7"><title>\#(HTMLText.escape(tip))</title></rect>"#
        }
        return out
    }

    /// The unit of the y axis.
    struct Unit {
        var seconds: Double
        var name: String

        static func fitting(_ largest: Double) -> Unit {
            if largest < 180 { return Unit(seconds: 1, name: "seconds") }
            if largest < 3 * 3600 { return Unit(seconds: 60, name: "minutes") }
            if largest < 3 * 86_400 { return Unit(seconds: 3600, name: "hours") }
            return Unit(seconds: 86_400, name: "days")
        }
    }

    /// A round step (1, 2 or 5 × 10ⁿ) giving four to eight gridlines, and the axis top.
    static func steps(upTo largest: Double) -> (step: Double, top: Double) {
        let raw = max(largest, 1e-9) / 5
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        return (step, (largest / step).rounded(.up) * step)
    }

    /// Up to `most` indices spread evenly over `count`, the first and last among them.
    static func labelledIndices(count: Int, most: Int) -> Set<Int> {
        guard count > most else { return Set(0..<count) }
        return Set((0..<most).map { Int((Double($0) * Double(count - 1) / Double(most - 1)).rounded()) })
    }

    /// A coordinate with at most one decimal, no exponent.
    private static func n(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(format: "%.1f", value)
    }
}
