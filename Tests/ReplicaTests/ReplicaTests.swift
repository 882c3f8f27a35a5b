import CardModel
import Foundation
import RegistryCSV
import Replica
import Testing

/// A fresh folder under the system temp dir, removed when the test ends.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "cus-replica-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func parse(_ csv: String) throws -> RegistryCSV.Result { try RegistryCSV.parse(Array(csv.utf8)) }

let header = "card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status\n"

@Suite("Replica")
struct ReplicaTests {
    @Test("a new replica is created, migrated, and re-opened with its data")
    func createAndReopen() throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        do {
            let replica = try Replica(path: path)
            let rows = try parse(header + "SKS-1,04:A1:10:22:33:44:80,senior60,,Halina,Wójcik,2021-03-01,,active\n").rows
            let report = try replica.importRegistry(rows)
            #expect(report.cards == 1)
        }
        let again = try Replica(path: path)
        let card = try #require(try again.card(uid: ChipUID(hex: "04A11022334480")))
        #expect(card.number.value == "SKS1")
        #expect(card.holderDisplayName == "Halina W.")
        #expect(card.entitlements.map(\.kind) == [.senior60])
        #expect(try again.stats().cards == 1)
        // WAL mode, as the kiosk relies on readers never blocking the writer.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("no PESEL and no full last name are stored anywhere in the file")
    func minimalPersonalData() throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        let replica = try Replica(path: path)
        _ = try replica.importRegistry(try parse(header + "KDR-9,,large_family,parent,Agnieszka,Dąbrowska-Nowak,2020-09-01,,active\n").rows)
        _ = try Replica(path: path)  // checkpoint on reopen is not guaranteed; read every file
        var bytes = Data()
        for suffix in ["", "-wal"] { bytes.append(FileManager.default.contents(atPath: path + suffix) ?? Data()) }
        #expect(bytes.range(of: Data("Dąbrowska".utf8)) == nil)
        #expect(bytes.range(of: Data("Agnieszka D.".utf8)) != nil)
    }

    @Test("lookup by number finds the replacement; the old chip is found by UID and is revoked")
    func replacement() throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("r.sqlite"))
        let csv = header + """
            SKS-8,04:A1:10:22:33:44:87,senior60,,Henryk,Woźniak,2024-01-08,,revoked
            SKS-8,04:A1:10:22:33:44:97,senior60,,Henryk,Woźniak,2024-01-08,,active
            """
        let report = try replica.importRegistry(try parse(csv).rows)
        #expect(report.refused.isEmpty)
        let current = try #require(try replica.card(number: CardNumber(normalising: "sks 8")))
        #expect(current.uid?.hex == "04A11022334497")
        #expect(current.status == .active)
        let old = try #require(try replica.card(uid: ChipUID(hex: "04A11022334487")))
        #expect(old.status == .revoked)
        #expect(old.isReplaced)
        #expect(old.replacedBy?.hex == "04A11022334497")
    }

    @Test("re-importing the same file is idempotent")
    func idempotentImport() throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("r.sqlite"))
        let rows = try parse(header + """
            KDR-5,04:B2:20:11:22:33:94,large_family,child,Lena,Dąbrowska,2021-02-01,2033-08-20,active
            KDR-5,04:B2:20:11:22:33:94,disability,,Lena,Dąbrowska,2021-02-01,2028-02-29,active
            SKS-4,,senior60,,Tadeusz,Krawczyk,2022-06-01,,active
            """).rows
        _ = try replica.importRegistry(rows)
        let first = try replica.stats()
        _ = try replica.importRegistry(rows)
        let second = try replica.stats()
        #expect(first.cards == 2 && second.cards == 2)
        #expect(first.entitlements == 3 && second.entitlements == 3)
        #expect(first.people == second.people)
        let lena = try #require(try replica.card(number: CardNumber(normalising: "KDR-5")))
        #expect(Set(lena.entitlements.map(\.kind)) == [.largeFamily, .disability])
    }

    @Test("a chip already on another card is refused, and the rest imported")
    func uidConflict() throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("r.sqlite"))
        _ = try replica.importRegistry(try parse(header + "SKS-1,C3304455,senior60,,Ewa,P,2022-01-01,,active\n").rows)
        let report = try replica.importRegistry(try parse(header + """
            SKS-2,C3304455,senior60,,Jan,K,2022-01-01,,active
            SKS-3,C3304456,senior60,,Jan,K,2022-01-01,,active
            """).rows)
        #expect(report.cards == 1)
        #expect(report.refused.map(\.line) == [2])
        #expect(report.refused.first?.reason.contains("already belongs") == true)
    }

    @Test("a file that is not a database is refused and left untouched")
    func notADatabase() throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        let junk = Data("these are not the cards you are looking for\n".utf8)
        try junk.write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try Replica(path: path)
        } throws: { error in
            (error as? ReplicaError)?.code == .notADatabase
        }
        #expect(FileManager.default.contents(atPath: path) == junk)
    }

    /// A replica at `path` holding `count` chipless senior cards `SKS-<first + i>`, closed.
    static func makeReplica(_ path: String, cards count: Int, first: Int) throws {
        let replica = try Replica(path: path)
        var csv = header
        for i in 0..<count { csv += "SKS-\(first + i),,senior60,,Jan,Kowalski,2022-01-01,,active\n" }
        _ = try replica.importRegistry(try parse(csv).rows)
    }

    @Test("a corrupt database is refused, not recreated")
    func corruptDatabase() throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        try Self.makeReplica(path, cards: 2000, first: 10_000)
        // Fold the WAL in, then scribble over pages in the middle of the file.
        _ = try Replica(path: path)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(bytes.count > 40_000)
        for i in 8192..<(8192 + 16384) where i < bytes.count { bytes[i] = 0xA5 }
        try bytes.write(to: URL(fileURLWithPath: path))
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
        #expect {
            _ = try Replica(path: path)
        } throws: { error in
            let code = (error as? ReplicaError)?.code
            return code == .corrupt || code == .notADatabase
        }
        let after = FileManager.default.contents(atPath: path) ?? Data()
        let firstDiff = zip(after, bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(after == bytes, "first differing byte at \(String(describing: firstDiff)), sizes \(after.count) vs \(bytes.count)")
    }

    @Test("checked in the background: lookups are answered at once, a damaged file fails the check and every write, and is left as it was")
    func backgroundIntegrityCheck() async throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        try Self.makeReplica(path, cards: 20_000, first: 100_000)
        _ = try Replica(path: path)  // folds the WAL in
        let number = try CardNumber(normalising: "SKS-100001")

        // Intact: the check passes and writes go on.
        do {
            let replica = try Replica(path: path, integrity: .inBackground)
            try await replica.integrityVerified()
            #expect(try replica.setPreferences(ScreenPreferences(language: .uk, largeText: true, speech: false), number: number))
            #expect(try replica.forgetPreferences(number: number))
        }
        _ = try Replica(path: path)

        // Bytes overwritten in the middle of the card table.
        var bytes = try #require(FileManager.default.contents(atPath: path))
        let middle = bytes.count / 2 / 4096 * 4096
        for i in middle..<(middle + 8192) { bytes[i] = 0xA5 }
        try bytes.write(to: URL(fileURLWithPath: path))
        for s in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }

        let replica = try Replica(path: path, integrity: .inBackground)
        _ = try? replica.card(number: number)
        await #expect(throws: ReplicaError.self) { try await replica.integrityVerified() }
        do {
            try await replica.integrityVerified()
        } catch {
            #expect(error.code == .corrupt)
        }
        #expect(throws: ReplicaError.self) {
            try replica.setPreferences(ScreenPreferences(language: .uk, largeText: true, speech: false), number: number)
        }
        await #expect(throws: ReplicaError.self) { try await replica.applyChanges([], cursor: 7) }
        #expect(throws: ReplicaError.self) { try replica.importRegistry(try parse(header + "SKS-999999,,senior60,,Jan,Kowalski,2022-01-01,,active\n").rows) }
        await replica.foldWAL()
        #expect(FileManager.default.contents(atPath: path) == bytes)
        // Opened the usual way, the same file is refused outright.
        #expect(throws: ReplicaError.self) { _ = try Replica(path: path) }
    }

    @Test("another application's SQLite file is refused")
    func foreignDatabase() throws {
        let dir = TempDir()
        let path = dir.file("other.sqlite")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [path, "CREATE TABLE invoices(id INTEGER); INSERT INTO invoices VALUES (1);"]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        #expect {
            _ = try Replica(path: path)
        } throws: { error in
            (error as? ReplicaError)?.code == .foreign
        }
    }
}

@Suite("Registry CSV")
struct RegistryCSVTests {
    @Test("semicolons, BOM, CRLF, quotes and column order are all accepted")
    func dialects() throws {
        let csv = "\u{FEFF}status;first_name;last_name;card_number;uid;entitlement;role;valid_from;valid_until\r\n"
            + "active;\"Anna; Maria\";\"Nowak\";SKS 12-34;04:A1:10:22:33:44:80;SENIOR60;;2021-03-01;\r\n"
        let result = try parse(csv)
        #expect(result.errors.isEmpty)
        let row = try #require(result.rows.first)
        #expect(row.cardNumber.value == "SKS1234")
        #expect(row.firstName == "Anna; Maria")
        #expect(row.displayName == "Anna; Maria N.")
        #expect(row.validUntil == nil)
        #expect(row.entitlement == .senior60)
    }

    @Test("every bad row is reported with its line number and a reason; good rows pass")
    func errorReport() throws {
        let csv = header + """
            SKS-1,,senior60,,Jan,Kowalski,2022-01-01,,active
            SKS-2,,senior61,,Jan,Kowalski,2022-01-01,,active
            SKS-3,,large_family,,Jan,Kowalski,2022-01-01,,active
            SKS-4,,senior60,,Jan,Kowalski,2022-02-30,,active
            SKS-5,,senior60,,Jan,Kowalski,2022-01-01,2021-01-01,active
            SKS-6,ZZ:11,senior60,,Jan,Kowalski,2022-01-01,,active
            SKS-7,,senior60,,Jan,Kowalski,2022-01-01,,stolen
            S!,,senior60,,Jan,Kowalski,2022-01-01,,active

            SKS-9,,disability,child,Jan,Kowalski,2022-01-01,,active
            SKS-10,,staff,,,Kowalski,2022-01-01,,active
            SKS-11,,large_family,child,Ola,Kowalska,2022-01-01,2030-09-30,active
            """
        let result = try parse(csv)
        #expect(result.rows.map(\.line) == [2, 13])
        #expect(result.errors.map(\.line) == [3, 4, 5, 6, 7, 8, 9, 11, 12])
        let reasons = Dictionary(uniqueKeysWithValues: result.errors.map { ($0.line, $0.reason) })
        #expect(reasons[3]?.contains("senior61") == true)
        #expect(reasons[4]?.contains("parent or child") == true)
        #expect(reasons[5]?.contains("no such day") == true)
        #expect(reasons[6]?.contains("before valid_from") == true)
        #expect(reasons[7]?.contains("uid") == true)
        #expect(reasons[8]?.contains("stolen") == true)
        #expect(reasons[11]?.contains("only large_family") == true)
        #expect(reasons[12]?.contains("first_name") == true)
    }

    @Test("an unclosed quote refuses its own row with its line, and every later row is still read")
    func unclosedQuote() throws {
        let csv = header + """
            SKS-1,,senior60,,"Jan,Kowalski,2022-01-01,,active
            SKS-2,,senior60,,Ewa,Nowak,2022-01-01,,active
            SKS-3,,senior60,,Olga,"Wiśniewska,2022-01-01,,active
            SKS-4,,senior60,,Ewa,Nowak,2022-01-01,,active
            SKS-5,,senior60,,"Ann,Lee,2022-01-01,,active
            """
        let result = try parse(csv)
        #expect(result.rows.map(\.line) == [3, 5])
        #expect(result.errors.map(\.line) == [2, 4, 6])
        #expect(result.errors.allSatisfy { $0.reason.contains("quote") })
    }

    @Test("a file without the needed columns, empty, or not UTF-8 is refused whole")
    func fileErrors() {
        #expect(throws: RegistryCSV.FileError.missingColumns(["status"])) {
            try parse("card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until\n")
        }
        #expect(throws: RegistryCSV.FileError.empty) { try parse("\n\n") }
        #expect(throws: RegistryCSV.FileError.notUTF8) { try RegistryCSV.parse([0x63, 0x61, 0xFF, 0xFE, 0x0A]) }
    }

    @Test("rows that contradict each other for one card are refused in the replica import")
    func contradictions() throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("r.sqlite"))
        let rows = try parse(header + """
            SKS-1,,senior60,,Jan,Kowalski,2022-01-01,,active
            SKS-1,,disability,,Jan,Kowalski,2022-01-01,,suspended
            SKS-1,,senior60,,Jan,Kowalski,2022-01-01,,active
            SKS-1,,staff,,Piotr,Kowalski,2022-01-01,,active
            SKS-2,04A1102233448A,senior60,,Ewa,Nowak,2022-01-01,,active
            SKS-2,04A1102233448B,senior60,,Ewa,Nowak,2022-01-01,,active
            """).rows
        let report = try replica.importRegistry(rows)
        #expect(report.refused.map(\.line) == [3, 4, 5, 7])
        #expect(report.cards == 2)
    }
}
