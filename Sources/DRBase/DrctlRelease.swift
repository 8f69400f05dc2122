/// drctl's version, in one place: `drctl version` prints it and every drill report records it.
package enum DrctlRelease {
    package static let version = "0.1.0"
}
