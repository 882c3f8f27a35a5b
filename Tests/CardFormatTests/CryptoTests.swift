import CardFormat
import Testing

@Suite("Ed25519 wiring")
struct CryptoTests {
    /// RFC 8032, section 7.1, TEST 1: the empty message.
    enum RFC8032Test1 {
        static let secretKey = Fixture.hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        static let publicKey = Fixture.hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        static let signature = Fixture.hex("""
            e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
            """)
    }

    @Test("RFC 8032 test 1: the public key, the signature of the empty message, and its verification")
    func rfc8032Test1() throws {
        let key = try #require(CardSigningKey(keyID: 0, seed: RFC8032Test1.secretKey))
        #expect(key.publicKeyBytes == RFC8032Test1.publicKey)
        #if !canImport(Darwin)
        // BoringSSL's Ed25519 is the deterministic RFC 8032 one (CryptoKit's is randomised).
        #expect(try key.signature(for: []) == RFC8032Test1.signature)
        #endif

        var trusted = TrustedKeys()
        let added = trusted.trust(keyID: 0, publicKey: RFC8032Test1.publicKey)
        #expect(added)
        #expect(trusted.isValidSignature(RFC8032Test1.signature, for: [], keyID: 0))
        #expect(trusted.isValidSignature(try key.signature(for: []), for: [], keyID: 0))
        var flipped = RFC8032Test1.signature
        flipped[10] ^= 0x80
        #expect(!trusted.isValidSignature(flipped, for: [], keyID: 0))
        #expect(!trusted.isValidSignature(RFC8032Test1.signature, for: [0x00], keyID: 0))
        #expect(!trusted.isValidSignature(RFC8032Test1.signature, for: [], keyID: 1))
    }

    @Test("a seed of the wrong length is refused")
    func seedLength() {
        #expect(CardSigningKey(keyID: 0, seed: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(CardSigningKey(keyID: 0, seed: [UInt8](repeating: 1, count: 64)) == nil)
    }

    @Test("printing a signing key shows its id and never its material")
    func keyIsRedacted() throws {
        let key = try #require(CardSigningKey(keyID: 7, seed: RFC8032Test1.secretKey))
        var dumped = ""
        dump(key, to: &dumped)
        for text in ["\(key)", String(reflecting: key), dumped] {
            #expect(text.contains("7"))
            #expect(!text.lowercased().contains("9d61"))
            #expect(!text.contains("privateKey"))
        }
    }
}
