public import CardModel
import Crypto
import CryptoExtras
public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a staff PIN could not be set or read.
public struct StaffPINError: Error, Sendable, CustomStringConvertible {
    /// What went wrong and what to do.
    public var detail: String
    /// An error.
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// What checking a PIN found.
public enum PINCheck: Sendable, Equatable {
    /// The PIN is right: the tries are reset.
    case accepted
    /// Wrong; this many tries are left before the lock.
    case wrong(triesLeft: Int)
    /// Too many wrong tries: locked for this many more seconds (no PIN is checked meanwhile).
    case locked(seconds: Int)
    /// This card has no PIN at this kiosk: it cannot open verification mode.
    case noPIN
}

/// The PINs that, with a staff card, switch a kiosk to verification mode: `state_dir/staff-pins.json`.
///
/// Only a salted PBKDF2-SHA256 hash of each PIN is kept (210,000 rounds), with the count of wrong tries
/// and the lock: after ``maxFailures`` wrong PINs in a row the card is locked for ``lockout``, and the lock
/// survives a restart. The file is mode 0600 and written whole (temporary file, fsync, rename) under an
/// `flock`, so `kioskctl staff pin` and a running kioskd never lose each other's writes. Card numbers are
/// kept in full (the key); they are staff members' cards, not residents'.
public struct StaffPINs: Sendable {
    /// The file.
    public let path: String
    /// Wrong PINs in a row that lock the card.
    public let maxFailures: Int
    /// How long a card stays locked.
    public let lockout: Duration
    static let rounds = 210_000

    struct Entry: Codable, Equatable {
        var salt: String
        var hash: String
        var failures: Int
        var lockedUntil: Date?
        var setAt: Date
    }

    struct File: Codable {
        var version = 1
        var cards: [String: Entry] = [:]
    }

    /// The PINs at `path` (created on the first `set`).
    public init(path: String, maxFailures: Int = 5, lockout: Duration = .seconds(900)) {
        self.path = path
        self.maxFailures = maxFailures
        self.lockout = lockout
    }

    /// Whether `pin` is a PIN: 4 to 6 digits.
    public static func isWellFormed(_ pin: String) -> Bool {
        (4...6).contains(pin.count) && pin.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Sets (or replaces) the PIN of a staff card; clears its lock.
    public func set(pin: String, for number: CardNumber) throws(StaffPINError) {
        guard Self.isWellFormed(pin) else { throw StaffPINError("a PIN is 4 to 6 digits") }
        if ["0000", "1234", "12345", "123456", "1111", "111111"].contains(pin) {
            throw StaffPINError("this PIN is too easy to guess; choose another")
        }
        var salt = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255, using: &rng) }
        let hash = try Self.derive(pin, salt: salt)
        try update { file in
            file.cards[number.value] = Entry(salt: Data(salt).base64EncodedString(), hash: hash, failures: 0, lockedUntil: nil, setAt: Date())
        }
    }

    /// Removes a card's PIN; returns whether it had one.
    @discardableResult
    public func remove(for number: CardNumber) throws(StaffPINError) -> Bool {
        var had = false
        try update { file in had = file.cards.removeValue(forKey: number.value) != nil }
        return had
    }

    /// The cards with a PIN, masked, for `kioskctl staff pin list`.
    public func cards() throws(StaffPINError) -> [(masked: String, locked: Bool)] {
        let file = try load()
        return file.cards.keys.sorted().map { key in
            let masked = (try? CardNumber(normalising: key))?.masked ?? "?"
            return (masked, (file.cards[key]?.lockedUntil ?? .distantPast) > Date())
        }
    }

    /// Checks `pin` for the staff card `number`, counting a wrong one towards the lock.
    public func check(pin: String, for number: CardNumber, now: Date = Date()) throws(StaffPINError) -> PINCheck {
        var outcome = PINCheck.noPIN
        let maxFailures = self.maxFailures
        let lockSeconds = Double(lockout.components.seconds)
        try update { file in
            guard var entry = file.cards[number.value] else { outcome = .noPIN; return }
            if let until = entry.lockedUntil, until > now {
                outcome = .locked(seconds: max(1, Int(until.timeIntervalSince(now).rounded(.up))))
                return
            }
            let salt = [UInt8](Data(base64Encoded: entry.salt) ?? Data())
            let given = Self.isWellFormed(pin) ? ((try? Self.derive(pin, salt: salt)) ?? "") : ""
            if !given.isEmpty && Self.equal(given, entry.hash) {
                entry.failures = 0
                entry.lockedUntil = nil
                outcome = .accepted
            } else {
                entry.failures += 1
                if entry.failures >= maxFailures {
                    entry.failures = 0
                    entry.lockedUntil = now.addingTimeInterval(lockSeconds)
                    outcome = .locked(seconds: Int(lockSeconds))
                } else {
                    outcome = .wrong(triesLeft: maxFailures - entry.failures)
                }
            }
            file.cards[number.value] = entry
        }
        return outcome
    }

    // MARK: The file

    static func derive(_ pin: String, salt: [UInt8]) throws(StaffPINError) -> String {
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(pin.utf8), salt: salt, using: .sha256, outputByteCount: 32, rounds: rounds)
            return key.withUnsafeBytes { Data($0).base64EncodedString() }
        } catch {
            throw StaffPINError("the PIN could not be hashed: \(error)")
        }
    }

    /// Compares in time independent of where the strings differ (PIN hashes, staff tokens).
    public static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    func load() throws(StaffPINError) -> File {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw StaffPINError("\(path) cannot be read; check its owner and mode (0600)") }
            return File()
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(File.self, from: data)
        } catch {
            throw StaffPINError("\(path) is damaged; remove it and set the staff PINs again (kioskctl staff pin set)")
        }
    }

    /// Reads, changes and writes the file under an exclusive `flock` on `path.lock`.
    func update(_ change: (inout File) -> Void) throws(StaffPINError) {
        let lockPath = path + ".lock"
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw StaffPINError("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { throw StaffPINError("cannot lock \(lockPath)") }
        defer { _ = flock(lock, LOCK_UN) }
        var file = try load()
        change(&file)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(file) else { throw StaffPINError("the staff PINs could not be written") }
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StaffPINError("cannot write \(temp): \(String(cString: strerror(errno)))") }
        _ = fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temp, path) == 0 else {
            unlink(temp)
            throw StaffPINError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
