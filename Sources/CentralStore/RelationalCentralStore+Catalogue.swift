public import CentralWire
public import Foundation
import Logging
import ServiceRules
import Synchronization

extension RelationalCentralStore {
    // MARK: The service catalogue

    /// The newest version, read inside the caller's transaction.
    ///
    /// Versions are never changed once stored, so the last one decoded is kept and only its number is
    /// read again (decoding the document took a tenth of the central's time under request bursts).
    func newestCatalogue(_ db: any SQLConnection) async throws -> Catalogue {
        guard let newest = try await db.one("SELECT max(version) AS version FROM catalogue_version")?.optionalInt("version") else {
            throw CentralStoreError.corrupt("no catalogue version is stored; the v3 migration seeds one")
        }
        if let cached = decodedCatalogue.withLock({ $0 }), cached.version == newest { return cached }
        guard let row = try await db.one("SELECT version, document FROM catalogue_version WHERE version = ?", [.int(newest)]) else {
            throw CentralStoreError.corrupt("catalogue version \(newest) vanished while it was read")
        }
        do {
            var catalogue = try JSONDecoder().decode(Catalogue.self, from: Data(try row.text("document").utf8))
            catalogue.version = try row.int("version")
            decodedCatalogue.withLock { $0 = catalogue }
            return catalogue
        } catch let error as CentralStoreError {
            throw error
        } catch {
            throw CentralStoreError.corrupt("catalogue version \(newest) cannot be read")
        }
    }

    func catalogue() async throws(CentralStoreError) -> Catalogue {
        try await run(.read) { db in try await newestCatalogue(db) }
    }

    func publishCatalogue(_ draft: Catalogue, by author: String) async throws(CentralStoreError) -> Catalogue {
        try await run(.write) { db in
            var catalogue = draft
            catalogue.version = try await newestCatalogue(db).version + 1
            let problems = CatalogueCheck.problems(catalogue)
            guard problems.isEmpty else {
                throw CentralStoreError.invalid(
                    "the catalogue was not published (\(problems.count) problem\(problems.count == 1 ? "" : "s")); fix and publish again:\n"
                        + problems.map { "- \($0)" }.joined(separator: "\n")
                )
            }
            let document = try Self.json(catalogue)
            let now = Clock.nowMillis()
            try await db.execute(
                "INSERT INTO catalogue_version (version, document, created_at_ms, created_by) VALUES (?, ?, ?, ?)",
                [.int(catalogue.version), .text(document), .int(now), .text(String(author.prefix(200)))]
            )
            let seq = try await nextSeq(db)
            try await db.execute(
                "INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (?, 'catalogue', NULL, ?, ?)",
                [.int(seq), .text(document), .int(now)]
            )
            logger.info("published a new service catalogue", metadata: ["version": "\(catalogue.version)", "by": "\(author.prefix(64))"])
            return catalogue
        }
    }
}

/// Reads a catalogue draft (as `cus-central catalogue show` prints it, or as staff write it) from JSON.
///
/// `version` may be left out: publishing gives the next version whatever the draft says.
/// - Throws: ``CentralStoreError/Code/invalid`` saying where the JSON does not fit.
public func decodeCatalogueDraft(_ data: Data) throws(CentralStoreError) -> Catalogue {
    do {
        var value = try JSONDecoder().decode(JSONValue.self, from: data)
        if case .object(var members) = value, members["version"] == nil {
            members["version"] = .number(0)
            value = .object(members)
        }
        return try JSONDecoder().decode(Catalogue.self, from: try JSONEncoder().encode(value))
    } catch let error as DecodingError {
        throw .invalid("the catalogue is not the expected JSON: \(describe(error)); start from `cus-central catalogue show` or GET /v1/catalogue")
    } catch {
        throw .invalid("the catalogue is not JSON")
    }
}

/// Where a decoding error happened, in words.
func describe(_ error: DecodingError) -> String {
    func path(_ c: DecodingError.Context) -> String {
        let p = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "" : " at \(p)"
    }
    switch error {
    case .keyNotFound(let key, let c): return "missing \(key.stringValue)\(path(c))"
    case .typeMismatch(_, let c): return "wrong type\(path(c))"
    case .valueNotFound(_, let c): return "null not allowed\(path(c))"
    case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
    @unknown default: return "unreadable"
    }
}
