public import CentralWire
import Foundation
import ServiceRules
public import StateFiles
import Synchronization

/// The service catalogue the kiosk offers: one whole ``Catalogue`` version at a time.
///
/// Starts from ``StandardCatalogue/catalogue`` until the central sends one; a catalogue from the central
/// (the change feed's `catalogue` entries, `GET /v1/catalogue`) replaces it only when its version is
/// higher and it passes ``CatalogueCheck``. Each accepted catalogue is written to `state_dir/catalogue.json`
/// (temporary file, fsync, rename; mode 0600) before it is used, and read back at start, so a kiosk
/// restarted offline keeps the latest one it had.
public final class ServiceCatalog: Sendable {
    struct State {
        var catalogue: Catalogue
        var fromCentral: Bool
    }

    /// Where accepted catalogues are kept; `nil`: in memory only (tests of other parts).
    public let path: String?
    private let state: Mutex<State>

    /// A catalogue kept at `path`: the one stored there if it is readable and passes ``CatalogueCheck``,
    /// otherwise the standard one.
    ///
    /// A file that cannot be used is left alone (the next catalogue from the central replaces it) and
    /// reported through ``loadProblem``.
    public init(path: String?) {
        self.path = path
        var initial = State(catalogue: StandardCatalogue.catalogue, fromCentral: false)
        var problem: String?
        if let path, let data = FileManager.default.contents(atPath: path) {
            if let stored = try? JSONDecoder().decode(Catalogue.self, from: data) {
                let problems = CatalogueCheck.problems(stored)
                if problems.isEmpty {
                    initial = State(catalogue: stored, fromCentral: true)
                } else {
                    problem = "\(path) is not a usable catalogue (\(problems.prefix(3).joined(separator: "; "))); using the standard one until the central sends another"
                }
            } else {
                problem = "\(path) is not a catalogue in JSON; using the standard one until the central sends another"
            }
        }
        state = Mutex(initial)
        loadProblem = problem
    }

    /// The standard catalogue, in memory only.
    public convenience init() { self.init(path: nil) }

    /// Why the stored catalogue could not be used at start, for the log; `nil` when it was fine or absent.
    public let loadProblem: String?

    /// The whole catalogue now.
    public var catalogue: Catalogue { state.withLock { $0.catalogue } }

    /// The version of the catalogue in use.
    public var version: Int64 { state.withLock { $0.catalogue.version } }

    /// Whether the kiosk holds a catalogue the central sent (now or before a restart).
    public var hasCentralCatalogue: Bool { state.withLock { $0.fromCentral } }

    /// Every service, in display order.
    public var services: [ServiceDefinition] { catalogue.services }

    /// The service with `id`, if listed.
    public func service(id: String) -> ServiceDefinition? { catalogue.service(id: id) }

    /// What ``replace(with:)`` did.
    public enum Replacement: Sendable, Equatable {
        /// The catalogue is now in use (and stored).
        case replaced
        /// Not newer than the one held: nothing changed.
        case notNewer
        /// It breaks the catalogue rules: nothing changed; the problems say why.
        case refused([String])
    }

    /// Replaces the catalogue with `candidate` from the central when its version is higher and it passes
    /// ``CatalogueCheck``; a central catalogue of the same version as the standard one is adopted too (so
    /// the kiosk knows it has the central's).
    ///
    /// - Throws: ``StateFileError`` when it cannot be stored; the catalogue in use is then unchanged.
    @discardableResult
    public func replace(with candidate: Catalogue) throws(StateFileError) -> Replacement {
        let current = state.withLock { $0 }
        let newer = candidate.version > current.catalogue.version
            || (!current.fromCentral && candidate.version == current.catalogue.version)
        guard newer else { return .notNewer }
        let problems = CatalogueCheck.problems(candidate)
        guard problems.isEmpty else { return .refused(problems) }
        if let path {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data: Data
            do { data = try encoder.encode(candidate) } catch {
                throw StateFileError(path: path, problem: "cannot be written: the catalogue does not encode")
            }
            try StateFiles.writeAtomically(Array(data), to: path)
        }
        return state.withLock { s in
            // Another replacement may have won meanwhile: never go back to a lower version.
            guard candidate.version > s.catalogue.version || (!s.fromCentral && candidate.version == s.catalogue.version) else {
                return .notNewer
            }
            s = State(catalogue: candidate, fromCentral: true)
            return .replaced
        }
    }
}

/// Runs a sync with the central on demand (`POST /api/v1/sync`, `kioskctl sync`).
public protocol SyncTrigger: Sendable {
    /// Syncs now (pull the feed, push the outbox) and says how it went; never throws.
    func syncNow() async -> SyncOutcome
}

/// How an on-demand sync went.
public struct SyncOutcome: Sendable, Codable, Equatable {
    /// Whether both the pull and the push reached the central and were applied.
    public var ok: Bool
    /// `online` or `offline` after this sync.
    public var central: String
    /// Feed entries applied (0 after a bootstrap).
    public var changesApplied: Int
    /// Whether the replica was bootstrapped again from the snapshot.
    public var bootstrapped: Bool
    /// The replica's cursor afterwards.
    public var cursor: Int64?
    /// Requests the central acknowledged in this sync.
    public var requestsDelivered: Int
    /// Requests the central could not read in this sync (quarantined for staff).
    public var requestsQuarantined: Int
    /// Requests still waiting.
    public var requestsPending: Int
    /// The catalogue version in use after this sync.
    public var catalogueVersion: Int64?
    /// What went wrong, in words staff can act on; never a token or a card number.
    public var error: String?

    public init(ok: Bool, central: String, changesApplied: Int = 0, bootstrapped: Bool = false, cursor: Int64? = nil,
                requestsDelivered: Int = 0, requestsQuarantined: Int = 0, requestsPending: Int = 0, catalogueVersion: Int64? = nil,
                error: String? = nil) {
        self.ok = ok
        self.central = central
        self.changesApplied = changesApplied
        self.bootstrapped = bootstrapped
        self.cursor = cursor
        self.requestsDelivered = requestsDelivered
        self.requestsQuarantined = requestsQuarantined
        self.requestsPending = requestsPending
        self.catalogueVersion = catalogueVersion
        self.error = error
    }
}
