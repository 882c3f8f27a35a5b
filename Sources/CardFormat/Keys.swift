import Crypto
import Foundation

/// One `keyid:key` line of a key file.
struct KeyLine: Sendable {
    var keyID: UInt8
    var key: [UInt8]
    var line: Int
}

/// The `keyid:key` text format shared by trusted-key files and signing-key files (docs/card-format.md, "Key files").
enum KeyText {
    /// Parses every non-blank, non-comment line of `bytes`.
    static func parse(_ bytes: [UInt8], path: String) throws(KeyFileError) -> [KeyLine] {
        var out: [KeyLine] = []
        let text = String(decoding: bytes, as: UTF8.self)
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let line = content.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw .malformedLine(path: path, line: lineNumber, reason: "no ':' between key id and key")
            }
            let idText = line[..<colon].trimmingCharacters(in: .whitespaces)
            let keyText = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !idText.isEmpty, idText.allSatisfy({ $0.isASCII && $0.isNumber }), let id = UInt8(idText) else {
                throw .malformedLine(path: path, line: lineNumber, reason: "the key id \"\(idText)\" is not a number 0-255")
            }
            guard let key = decodeKey(keyText) else {
                throw .malformedLine(path: path, line: lineNumber, reason: "the key is neither hex nor base64")
            }
            out.append(KeyLine(keyID: id, key: key, line: lineNumber))
        }
        return out
    }

    /// Hex when every character is a hex digit (an Ed25519 key in base64 always ends in `=`), base64 otherwise.
    static func decodeKey(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { return nil }
        if utf8.allSatisfy({ hexValue($0) != nil }) {
            guard utf8.count % 2 == 0 else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(utf8.count / 2)
            var i = 0
            while i < utf8.count, let hi = hexValue(utf8[i]), let lo = hexValue(utf8[i + 1]) {
                out.append(hi << 4 | lo)
                i += 2
            }
            return out
        }
        return Data(base64Encoded: text).map { Array($0) }
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `keyid:base64`.
    static func line(keyID: UInt8, key: [UInt8]) -> String {
        "\(keyID):\(Data(key).base64EncodedString())"
    }
}

/// An Ed25519 key that signs CUS card records at issuance, with the key id written on every card it signs.
///
/// Load it with ``load(path:)`` (a mode-0600 file) or ``loadCredential(named:)`` (a systemd
/// credential); never take key material from command-line arguments, which every user can see
/// in `ps` and which land in shell history. Printing the key shows only its id.
public struct CardSigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The id written on cards and looked up in ``TrustedKeys``.
    public let keyID: UInt8
    let privateKey: Curve25519.Signing.PrivateKey

    init(keyID: UInt8, privateKey: Curve25519.Signing.PrivateKey) {
        self.keyID = keyID
        self.privateKey = privateKey
    }

    /// A key from its 32-byte Ed25519 seed (RFC 8032 "secret key"); `nil` for any other length.
    public init?(keyID: UInt8, seed: [UInt8]) {
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { return nil }
        self.init(keyID: keyID, privateKey: key)
    }

    /// A new random key (from the system's secure random source).
    public static func generate(keyID: UInt8) -> CardSigningKey {
        CardSigningKey(keyID: keyID, privateKey: Curve25519.Signing.PrivateKey())
    }

    /// The 32-byte Ed25519 public key.
    public var publicKeyBytes: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }

    /// The line to add to a trusted-keys file: `keyid:base64-public-key`.
    public var trustedKeyLine: String { KeyText.line(keyID: keyID, key: publicKeyBytes) }

    /// Signs `message` (used by the encoder and by tests of the crypto wiring).
    public func signature(for message: [UInt8]) throws(CardEncodingError) -> [UInt8] {
        do { return Array(try privateKey.signature(for: message)) } catch { throw .signingFailed }
    }

    // MARK: Files

    /// Loads a signing key file written by ``writeFiles(privateKeyPath:publicKeyPath:)``.
    ///
    /// The file must not be accessible to group or others (mode 0600 or 0400), must hold exactly
    /// one `keyid:key` line, and the key must be 64 bytes: the seed followed by its public key,
    /// which is checked, so a damaged file or a public-key file given by mistake is refused.
    /// - Throws: ``KeyFileError``, e.g. ``KeyFileError/insecurePermissions(path:mode:)`` for mode 0644.
    public static func load(path: String) throws(KeyFileError) -> CardSigningKey {
        let bytes = try KeyFileIO.read(path, secret: true)
        return try parse(bytes, path: path)
    }

    /// Loads the signing key from the systemd credential `name`: `$CREDENTIALS_DIRECTORY/name`.
    ///
    /// Give the service `LoadCredential=name:/etc/cus-kiosk/card-signing.key` (or
    /// `LoadCredentialEncrypted=`); systemd then exposes the key to this service only.
    public static func loadCredential(named name: String) throws(KeyFileError) -> CardSigningKey {
        try loadCredential(named: name, credentialsDirectory: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"])
    }

    /// Loads the credential `name` from `credentialsDirectory` (the value of `$CREDENTIALS_DIRECTORY`).
    public static func loadCredential(named name: String, credentialsDirectory: String?) throws(KeyFileError) -> CardSigningKey {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/") else { throw .badCredentialName(name) }
        guard let directory = credentialsDirectory, !directory.isEmpty else { throw .credentialsDirectoryUnset(name: name) }
        return try load(path: directory.hasSuffix("/") ? directory + name : directory + "/" + name)
    }

    /// Writes the private key (mode 0600) and the public key (mode 0644) as new files; never overwrites.
    ///
    /// The public file is a trusted-keys file with one line, ready for the kiosks' key directory.
    /// If the public file cannot be written, the private file is removed again.
    public func writeFiles(privateKeyPath: String, publicKeyPath: String) throws(KeyFileError) {
        let secret = Array(privateKey.rawRepresentation) + publicKeyBytes
        let privateText = """
            # CUS Starachowice card signing key, id \(keyID). SECRET: keep mode 0600 and a backup offline.
            # Never pass it on a command line. Its public half is in the matching .pub file.
            \(KeyText.line(keyID: keyID, key: secret))

            """
        let publicText = """
            # CUS Starachowice card verification key, id \(keyID). Public: add to the kiosks' trusted keys.
            \(trustedKeyLine)

            """
        try KeyFileIO.create(privateKeyPath, bytes: Array(privateText.utf8), mode: 0o600)
        do {
            try KeyFileIO.create(publicKeyPath, bytes: Array(publicText.utf8), mode: 0o644)
        } catch {
            KeyFileIO.remove(privateKeyPath)
            throw error
        }
    }

    static func parse(_ bytes: [UInt8], path: String) throws(KeyFileError) -> CardSigningKey {
        let lines = try KeyText.parse(bytes, path: path)
        guard let first = lines.first else { throw .noKeys(path: path) }
        guard lines.count == 1 else { throw .moreThanOneKey(path: path) }
        guard first.key.count == 64 else {
            let hint = first.key.count == 32
                ? "32 bytes is a public key: use the private key file written at key generation"
                : "a signing key is 64 bytes (seed, then public key), not \(first.key.count)"
            throw .malformedLine(path: path, line: first.line, reason: hint)
        }
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: first.key[..<32]),
              Array(key.publicKey.rawRepresentation) == Array(first.key[32...])
        else { throw .inconsistentPrivateKey(path: path) }
        return CardSigningKey(keyID: first.keyID, privateKey: key)
    }

    /// `CardSigningKey(keyID: N, <secret>)`: the key material never reaches a log.
    public var description: String { "CardSigningKey(keyID: \(keyID), <secret>)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// Shows only the key id to `dump` and debuggers.
    public var customMirror: Mirror { Mirror(self, children: ["keyID": keyID]) }
}

/// The public keys a kiosk trusts for card records, by key id: several at once, for key rotation.
///
/// Loaded from a file of `keyid:key` lines or a directory of such files (docs/card-format.md, "Key files").
public struct TrustedKeys: Sendable {
    var keys: [UInt8: Curve25519.Signing.PublicKey] = [:]

    /// No trusted key: every signed record is then ``CounterfeitReason/unknownKey``.
    public init() {}

    /// Trusts the public halves of `signingKeys` (an issuing station checking what it wrote; tests).
    public init(_ signingKeys: [CardSigningKey]) {
        for key in signingKeys { keys[key.keyID] = key.privateKey.publicKey }
    }

    /// Trusts `publicKey` (32 bytes) under `keyID`, replacing a key with that id; `false` for a wrong length.
    @discardableResult
    public mutating func trust(keyID: UInt8, publicKey: [UInt8]) -> Bool {
        guard publicKey.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        keys[keyID] = key
        return true
    }

    /// The trusted key ids, ascending.
    public var keyIDs: [UInt8] { keys.keys.sorted() }

    /// Whether records signed under `keyID` can be verified.
    public func contains(keyID: UInt8) -> Bool { keys[keyID] != nil }

    func publicKey(for keyID: UInt8) -> Curve25519.Signing.PublicKey? { keys[keyID] }

    /// Whether `signature` is a valid Ed25519 signature of `message` by the key trusted under `keyID`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8], keyID: UInt8) -> Bool {
        keys[keyID]?.isValidSignature(signature, for: message) ?? false
    }

    /// Loads a trusted-keys file, or every `*.pub` file of a directory in name order.
    ///
    /// Other files in a directory (editor backups, README) are ignored. A key id that appears
    /// twice, anywhere, is an error rather than a silent choice between two keys.
    /// - Throws: ``KeyFileError``; ``KeyFileError/noKeys(path:)`` when nothing was found.
    public static func load(from path: String) throws(KeyFileError) -> TrustedKeys {
        var files: [String] = []
        if try KeyFileIO.isDirectory(path) {
            let base = path.hasSuffix("/") ? path : path + "/"
            for name in try KeyFileIO.directoryEntries(path) where name.hasSuffix(".pub") && !name.hasPrefix(".") {
                files.append(base + name)
            }
        } else {
            files = [path]
        }
        var result = TrustedKeys()
        for file in files {
            for line in try KeyText.parse(try KeyFileIO.read(file, secret: false), path: file) {
                guard line.key.count == 32 else {
                    let reason = line.key.count == 64
                        ? "64 bytes is a private signing key: it must not be on a kiosk; remove it and keep it secret"
                        : "a public key is 32 bytes, not \(line.key.count)"
                    throw .malformedLine(path: file, line: line.line, reason: reason)
                }
                guard !result.contains(keyID: line.keyID) else { throw .duplicateKeyID(line.keyID, path: file) }
                result.trust(keyID: line.keyID, publicKey: line.key)
            }
        }
        guard !result.keys.isEmpty else { throw .noKeys(path: path) }
        return result
    }
}
