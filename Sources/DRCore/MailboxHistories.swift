/// Which snapshots hold each mailbox, grouped: mailboxes with the same history (the same set
/// of snapshots) are one group, so the retention rules run once per group, not once per
/// mailbox. Typically a handful of groups: every mailbox a whole-store run holds moves
/// together, and only `--mailbox` runs, new and deleted mailboxes split them.
///
/// A history is a chain of nodes (snapshot, parent): a snapshot that holds every mailbox of a
/// group adds one node for them all, so memory grows with the snapshots times the groups each
/// one touches, plus one dictionary entry per mailbox path, never with snapshots × mailboxes.
package struct MailboxHistories: Sendable {
    private struct Node: Sendable {
        var parent: Int?
        var snapshot: Int
        /// Mailboxes whose history currently ends here.
        var mailboxes: Int
    }
    private var nodes: [Node] = []
    /// Each mailbox's newest node.
    private var at: [String: Int] = [:]

    package init() {}

    /// Records that snapshot `snapshot` (an index the caller chose) holds `paths`. Each
    /// snapshot is added once, with its whole list (a list read half-way must not be added);
    /// snapshots may come in any order.
    package mutating func add(snapshot: Int, paths: some Sequence<String>) {
        // The node each group moves to, by the node it comes from (-1: a mailbox not seen yet).
        var moved: [Int: Int] = [:]
        for path in paths {
            let old = at[path]
            if let old, nodes[old].snapshot == snapshot { continue }
            let new: Int
            if let known = moved[old ?? -1] {
                new = known
            } else {
                nodes.append(Node(parent: old, snapshot: snapshot, mailboxes: 0))
                new = nodes.count - 1
                moved[old ?? -1] = new
            }
            if let old { nodes[old].mailboxes -= 1 }
            nodes[new].mailboxes += 1
            at[path] = new
        }
    }

    /// One group: the snapshots (indices, unordered) that hold its mailboxes, how many
    /// mailboxes it has, and its byte-wise smallest path (the mailbox, when it has one).
    package struct History: Sendable, Equatable {
        package var snapshots: [Int]
        package var mailboxes: Int
        package var example: String
    }

    /// Every group, in a fixed order (by example).
    package func all() -> [History] {
        var example: [Int: String] = [:]
        for (path, node) in at where example[node].map({ Self.precedes(path, $0) }) ?? true {
            example[node] = path
        }
        return example.map { node, path in
            var snapshots: [Int] = []
            var cursor: Int? = node
            while let current = cursor {
                snapshots.append(nodes[current].snapshot)
                cursor = nodes[current].parent
            }
            return History(snapshots: snapshots, mailboxes: nodes[node].mailboxes, example: path)
        }.sorted { Self.precedes($0.example, $1.example) }
    }

    /// Byte-wise UTF-8 order, the mailbox list's (not `String.<`, which equates canonically
    /// equivalent names that are two different files).
    static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}
