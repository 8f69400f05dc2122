/// The order a pool of workers should take items of known sizes in: the largest first, ties
/// in the given order. Each item goes to one worker, so a large one taken last would leave the
/// other workers idle until it is done; largest first, a run ends on small ones.
package enum LargestFirst {
    /// Positions in `sizes`, largest first.
    package static func order(_ sizes: [Int64]) -> [Int] {
        sizes.indices.sorted { (sizes[$0], $1) > (sizes[$1], $0) }
    }
}
