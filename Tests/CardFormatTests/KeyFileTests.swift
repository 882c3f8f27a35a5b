import CardFormat
import CardModel
import Foundation
import Testing

@Suite("Key files, key directories and systemd credentials")
struct KeyFileTests {
    @Test("generated key files load back; the private file is 0600, the public one verifies its cards")
    func generateAndLoad() throws {
        let dir = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = CardSigningKey.generate(keyID: 9)
        try key.writeFiles(privateKeyPath: dir + "/card-9.key", publicKeyPath: dir + "/card-9.pub")

        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/card-9.key")[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o077 } == 0)
        let loaded = try CardSigningKey.load(path: dir + "/card-9.key")
        #expect(loaded.keyID == 9)
        #expect(loaded.publicKeyBytes == key.publicKeyBytes)

        let trusted = try TrustedKeys.load(from: dir + "/card-9.pub")
        #expect(trusted.keyIDs == [9])
        let image = try Fixture.image(key: loaded)
        guard case .verified = try CardRecordVerifier(trustedKeys: trusted).check(userMemory: image, uid: Fixture.uid) else {
            Issue.record("a card signed with the loaded key must verify with the written public key")
            return
        }
        #expect(throws: KeyFileError.fileExists(path: dir + "/card-9.key")) {
            try CardSigningKey.generate(keyID: 10).writeFiles(privateKeyPath: dir + "/card-9.key", publicKeyPath: dir + "/other.pub")
        }
        // A failed public write leaves no orphan private key behind.
        #expect(throws: KeyFileError.fileExists(path: dir + "/card-9.pub")) {
            try CardSigningKey.generate(keyID: 10).writeFiles(privateKeyPath: dir + "/card-10.key", publicKeyPath: dir + "/card-9.pub")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/card-10.key"))
    }

    @Test("a signing key file readable by others (0644) is refused with a chmod 600 hint", arguments: [0o644, 0o640, 0o604, 0o660])
    func insecureModeRefused(mode: Int) throws {
        let dir = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/card.key"
        try CardSigningKey.generate(keyID: 1).writeFiles(privateKeyPath: path, publicKeyPath: dir + "/card.pub")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        do {
            _ = try CardSigningKey.load(path: path)
            Issue.record("mode \(String(mode, radix: 8)) must be refused")
        } catch {
            #expect(error == .insecurePermissions(path: path, mode: UInt32(0o100000 | mode)))
            #expect(error.description.contains("chmod 600 \(path)"))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        #expect(try CardSigningKey.load(path: path).keyID == 1)
    }

    @Test("the key comes from $CREDENTIALS_DIRECTORY/<name>, and a missing directory says how to set it")
    func systemdCredential() throws {
        let dir = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = CardSigningKey.generate(keyID: 4)
        try key.writeFiles(privateKeyPath: dir + "/card-signing", publicKeyPath: dir + "/card-signing.pub")
        let loaded = try CardSigningKey.loadCredential(named: "card-signing", credentialsDirectory: dir)
        #expect(loaded.publicKeyBytes == key.publicKeyBytes)
        #expect(throws: KeyFileError.credentialsDirectoryUnset(name: "card-signing")) {
            try CardSigningKey.loadCredential(named: "card-signing", credentialsDirectory: nil)
        }
        for bad in ["", "..", "../etc/shadow", "a/b"] {
            #expect(throws: KeyFileError.badCredentialName(bad)) {
                try CardSigningKey.loadCredential(named: bad, credentialsDirectory: dir)
            }
        }
        #expect(throws: KeyFileError.self) {
            try CardSigningKey.loadCredential(named: "absent", credentialsDirectory: dir)
        }
    }

    @Test("a signing key file must hold one consistent 64-byte key")
    func signingKeyFileContent() throws {
        let dir = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = Fixture.key1
        let path = dir + "/k"
        // The public key file given as the signing key.
        try Fixture.write(key.trustedKeyLine + "\n", to: path, mode: 0o600)
        #expect(throws: KeyFileError.malformedLine(path: path, line: 1, reason: "32 bytes is a public key: use the private key file written at key generation")) {
            try CardSigningKey.load(path: path)
        }
        // Seed followed by somebody else's public key.
        let seed = [UInt8](repeating: 0x11, count: 32)
        let mismatched = seed + Fixture.key2.publicKeyBytes
        try? FileManager.default.removeItem(atPath: path)
        try Fixture.write("1:" + Fixture.hexString(mismatched) + "\n", to: path, mode: 0o600)
        #expect(throws: KeyFileError.inconsistentPrivateKey(path: path)) { try CardSigningKey.load(path: path) }
        // Hex works as well as base64.
        let good = seed + key.publicKeyBytes
        try? FileManager.default.removeItem(atPath: path)
        try Fixture.write("# comment\n\n  1 : " + Fixture.hexString(good).uppercased() + "  # trailing\n", to: path, mode: 0o600)
        #expect(try CardSigningKey.load(path: path).publicKeyBytes == key.publicKeyBytes)
        // Two keys in one file.
        try? FileManager.default.removeItem(atPath: path)
        try Fixture.write("1:\(Data(good).base64EncodedString())\n2:\(Data(good).base64EncodedString())\n", to: path, mode: 0o600)
        #expect(throws: KeyFileError.moreThanOneKey(path: path)) { try CardSigningKey.load(path: path) }
        // Empty file.
        try? FileManager.default.removeItem(atPath: path)
        try Fixture.write("# nothing here\n", to: path, mode: 0o600)
        #expect(throws: KeyFileError.noKeys(path: path)) { try CardSigningKey.load(path: path) }
    }

    @Test("a key directory trusts every .pub file, ignores other files and refuses duplicate ids")
    func trustedKeyDirectory() throws {
        let dir = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixture.write("# 2024 key\n" + Fixture.key1.trustedKeyLine + "\n", to: dir + "/2024.pub", mode: 0o644)
        let hex2 = Fixture.hexString(Fixture.key2.publicKeyBytes)
        try Fixture.write("2:\(hex2)\n", to: dir + "/2025.pub", mode: 0o644)
        try Fixture.write("this is not a key file\n", to: dir + "/README", mode: 0o644)
        try Fixture.write("3:garbage\n", to: dir + "/2025.pub~", mode: 0o644)
        let trusted = try TrustedKeys.load(from: dir)
        #expect(trusted.keyIDs == [1, 2])
        #expect(trusted.contains(keyID: 2))
        #expect(!trusted.contains(keyID: 3))

        try Fixture.write("1:\(hex2)\n", to: dir + "/old.pub", mode: 0o644)
        #expect(throws: KeyFileError.duplicateKeyID(1, path: dir + "/old.pub")) { try TrustedKeys.load(from: dir) }
        try FileManager.default.removeItem(atPath: dir + "/old.pub")

        let empty = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: KeyFileError.noKeys(path: empty)) { try TrustedKeys.load(from: empty) }
    }

    @Test("bad trusted-key lines are refused with their line number", arguments: [
        ("1 \(String(repeating: "a", count: 64))", "no ':' between key id and key"),
        ("256:\(String(repeating: "a", count: 64))", "the key id \"256\" is not a number 0-255"),
        ("-1:\(String(repeating: "a", count: 64))", "the key id \"-1\" is not a number 0-255"),
        ("1:not base64!", "the key is neither hex nor base64"),
        ("1:\(String(repeating: "a", count: 62))", "a public key is 32 bytes, not 31"),
        ("1:\(String(repeating: "a", count: 128))", "64 bytes is a private signing key: it must not be on a kiosk; remove it and keep it secret"),
    ])
    func badTrustedLines(line: String, reason: String) throws {
        let dir = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/keys.pub"
        try Fixture.write("# header\n\(line)\n", to: path, mode: 0o644)
        #expect(throws: KeyFileError.malformedLine(path: path, line: 2, reason: reason)) { try TrustedKeys.load(from: path) }
    }

    @Test("a missing path says it cannot be opened")
    func missingPath() {
        #expect {
            try TrustedKeys.load(from: "/nonexistent/cus-kiosk/keys")
        } throws: { error in
            guard let error = error as? KeyFileError, case .cannotOpen(_, let code, _) = error else { return false }
            return code == ENOENT
        }
    }
}
