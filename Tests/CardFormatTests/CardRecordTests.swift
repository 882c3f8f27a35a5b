import CardFormat
import CardModel
import Testing

@Suite("Card record: encode, verify, reject")
struct CardRecordTests {
    let verifier = CardRecordVerifier(trustedKeys: TrustedKeys([Fixture.key1]))

    @Test("a record written for a chip verifies on that chip with every field intact")
    func roundTrip() throws {
        let image = try Fixture.image()
        let result = try verifier.check(userMemory: image, uid: Fixture.uid)
        #expect(result == .verified(VerifiedCardRecord(
            number: Fixture.number("KDR2024000123"),
            entitlements: [.largeFamily, .disability],
            role: .child,
            validUntil: Fixture.day("2031-09-30"),
            keyID: 1
        )))
    }

    @Test("every entitlement and role combination, with and without an end date, survives the trip", arguments: [
        CardRecordContent(number: Fixture.number("S60-0001"), entitlements: [.senior60], validUntil: nil),
        CardRecordContent(number: Fixture.number("STAFF7"), entitlements: [.staff], validUntil: Fixture.day("1970-01-01")),
        CardRecordContent(number: Fixture.number("KDR1"), entitlements: [.largeFamily], role: .parent, validUntil: nil),
        CardRecordContent(
            number: Fixture.number(String(repeating: "Z9", count: 16)),
            entitlements: Set(EntitlementKind.allCases), role: .child, validUntil: Fixture.day("2149-06-05")
        ),
    ])
    func roundTripVariants(content: CardRecordContent) throws {
        let result = try verifier.check(userMemory: Fixture.image(content), uid: Fixture.uid)
        guard case .verified(let record) = result else {
            Issue.record("expected a verified record, got \(result)")
            return
        }
        #expect(record.number == content.number)
        #expect(Set(record.entitlements) == content.entitlements)
        #expect(record.entitlements == EntitlementKind.allCases.filter(content.entitlements.contains))
        #expect(record.role == content.role)
        #expect(record.validUntil == content.validUntil)
    }

    @Test("the longest record fits an NTAG213 even with a 10-byte UID")
    func longestRecordFitsNTAG213() throws {
        let content = CardRecordContent(
            number: Fixture.number(String(repeating: "A", count: 32)),
            entitlements: Set(EntitlementKind.allCases), role: .parent, validUntil: nil
        )
        let uid = Fixture.chipUID("04112233445566778899")
        let image = try Fixture.image(content, uid: uid)
        #expect(image.count <= TagType.ntag213.dataAreaSize)
        #expect(image.count == 144)
        #expect(try verifier.check(userMemory: image, uid: uid) != .noRecord)
    }

    @Test("a plain 48-byte Ultralight is refused with the space needed")
    func tooSmallTag() {
        #expect(throws: CardEncodingError.doesNotFit(needed: 124, capacity: 48, tag: .ultralight)) {
            try Fixture.image(tag: .ultralight)
        }
    }

    @Test("payload bytes sit where docs/card-format.md says")
    func byteLayout() throws {
        let payload = try CardRecordEncoder.payload(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
        let number = Array("KDR2024000123".utf8)
        let expectedSignedPart: [UInt8] = [0x01, 0x01, 0x07] + Fixture.uid.bytes
            + [0x06 | 0x20] // large_family + disability, role child
            + [0x58, 0x18] // 2031-09-30 is day 22552 = 0x5818 after 1970-01-01
            + [UInt8(number.count)] + number
        #expect(Array(payload.prefix(expectedSignedPart.count)) == expectedSignedPart)
        #expect(payload.count == expectedSignedPart.count + 64)
        #expect(Fixture.day("2031-09-30").dayNumber == 0x5818)

        let signature = Array(payload.suffix(64))
        let trusted = TrustedKeys([Fixture.key1])
        let signedMessage = Array("cus-starachowice.pl:card:v1".utf8) + [0x00] + expectedSignedPart
        #expect(trusted.isValidSignature(signature, for: signedMessage, keyID: 1))

        let message = try CardRecordEncoder.ndefMessage(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
        #expect(Array(message.prefix(3)) == [0xD4, 24, UInt8(payload.count)])
        #expect(Array(message[3..<27]) == Array("cus-starachowice.pl:card".utf8))
        #expect(Array(message[27...]) == payload)

        let image = try Fixture.image()
        #expect(Array(image.prefix(2)) == [0x03, UInt8(message.count)])
        #expect(Array(image[2..<(2 + message.count)]) == message)
        #expect(image[2 + message.count] == 0xFE)
        #expect(image.count % 4 == 0)
        #expect(image[(3 + message.count)...].allSatisfy { $0 == 0 })
    }

    #if !canImport(Darwin)
    @Test("the worked example in docs/card-format.md is what the encoder writes (BoringSSL signs deterministically)")
    func workedExample() throws {
        let content = CardRecordContent(
            number: Fixture.number("S60-0042"), entitlements: [.senior60], validUntil: nil
        )
        let image = try Fixture.image(content, uid: Fixture.uid, key: Fixture.key1)
        let expected = Fixture.hex(WorkedExample.image)
        #expect(image == expected)
    }
    #endif

    @Test("a flipped bit anywhere in the signature or the signed bytes gives badSignature")
    func forgedSignature() throws {
        let payload = try CardRecordEncoder.payload(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
        // Signature bytes, and the entitlement byte (turning on senior60 keeps the record well-formed).
        for index in [payload.count - 1, payload.count - 64, 3 + 7] {
            var forged = payload
            forged[index] ^= 0x01
            #expect(verifier.check(payload: forged, uid: Fixture.uid) == .counterfeit(.badSignature), "byte \(index)")
        }
        // A record signed by an attacker's own key but labelled with the trusted key id.
        let attacker = Fixture.key(1, fill: 0x99)
        let forged = try CardRecordEncoder.userMemory(for: Fixture.content, uid: Fixture.uid, key: attacker, tag: .ntag213)
        #expect(try verifier.check(userMemory: forged, uid: Fixture.uid) == .counterfeit(.badSignature))
    }

    @Test("a genuine record copied onto another chip is counterfeit: otherChip")
    func copiedToOtherChip() throws {
        let image = try Fixture.image()
        #expect(try verifier.check(userMemory: image, uid: Fixture.otherUID) == .counterfeit(.otherChip))
        // Rewriting the UID field to the new chip's UID breaks the signature instead.
        var payload = try CardRecordEncoder.payload(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
        payload.replaceSubrange(3..<10, with: Fixture.otherUID.bytes)
        #expect(verifier.check(payload: payload, uid: Fixture.otherUID) == .counterfeit(.badSignature))
        let presentation = verifier.presentation(userMemory: image, uid: Fixture.otherUID, technology: .ntag213)
        #expect(presentation == .counterfeit(uid: Fixture.otherUID, technology: .ntag213, why: .otherChip))
    }

    @Test("a key id the kiosk does not trust gives unknownKey")
    func unknownKey() throws {
        let image = try Fixture.image(key: Fixture.key2)
        #expect(try verifier.check(userMemory: image, uid: Fixture.uid) == .counterfeit(.unknownKey))
        let nobody = CardRecordVerifier(trustedKeys: TrustedKeys())
        #expect(try nobody.check(userMemory: Fixture.image(), uid: Fixture.uid) == .counterfeit(.unknownKey))
    }

    @Test("with two keys trusted, cards signed by either verify, and each only under its own id")
    func rotatedKeys() throws {
        var trusted = TrustedKeys()
        let added = [
            trusted.trust(keyID: 1, publicKey: Fixture.key1.publicKeyBytes),
            trusted.trust(keyID: 2, publicKey: Fixture.key2.publicKeyBytes),
            trusted.trust(keyID: 3, publicKey: [1, 2, 3]),
        ]
        #expect(added == [true, true, false])
        #expect(trusted.keyIDs == [1, 2])
        let both = CardRecordVerifier(trustedKeys: trusted)
        for key in [Fixture.key1, Fixture.key2] {
            let result = try both.check(userMemory: Fixture.image(key: key), uid: Fixture.uid)
            guard case .verified(let record) = result else {
                Issue.record("key \(key.keyID): \(result)")
                continue
            }
            #expect(record.keyID == key.keyID)
        }
        // Signed with key 2 but labelled key 1.
        let relabelled = Fixture.key(1, fill: 0x22)
        #expect(try both.check(userMemory: Fixture.image(key: relabelled), uid: Fixture.uid) == .counterfeit(.badSignature))
    }

    @Test("payloads that break the layout are malformed, even when correctly signed")
    func malformedPayloads() throws {
        let key = Fixture.key1
        func signed(_ part: [UInt8]) throws -> [UInt8] {
            part + (try key.signature(for: CardRecordFormat.signaturePrefix + part))
        }
        let good: [UInt8] = [0x01, 0x01, 0x07] + Fixture.uid.bytes + [0x01, 0xFF, 0xFF, 4] + Array("ABCD".utf8)
        guard case .verified = verifier.check(payload: try signed(good), uid: Fixture.uid) else {
            Issue.record("the well-formed baseline must verify")
            return
        }
        var cases: [(String, [UInt8])] = []
        func variant(_ name: String, _ edit: (inout [UInt8]) -> Void) {
            var p = good
            edit(&p)
            cases.append((name, p))
        }
        variant("UID length 5") { $0[2] = 5 }
        variant("reserved entitlement bit") { $0[10] |= 0x40 }
        variant("role bits 11") { $0[10] = 0x02 | 0x30 }
        variant("role without large family") { $0[10] = 0x01 | 0x10 }
        variant("large family without role") { $0[10] = 0x02 }
        variant("no entitlement") { $0[10] = 0 }
        variant("lower-case number") { $0[14] = UInt8(ascii: "a") }
        variant("number with a dash") { $0[14] = UInt8(ascii: "-") }
        variant("number length 3") { $0.removeLast(); $0[13] = 3 }
        variant("number length past the end") { $0[13] = 5 }
        for (name, part) in cases {
            #expect(verifier.check(payload: try signed(part), uid: Fixture.uid) == .counterfeit(.malformed), "\(name)")
        }
        #expect(verifier.check(payload: try signed(good) + [0], uid: Fixture.uid) == .counterfeit(.malformed), "trailing byte")
        #expect(verifier.check(payload: Array(try signed(good).dropLast()), uid: Fixture.uid) == .counterfeit(.malformed), "short signature")
        #expect(verifier.check(payload: [], uid: Fixture.uid) == .counterfeit(.malformed), "empty payload")
        #expect(verifier.check(payload: [0x01], uid: Fixture.uid) == .counterfeit(.malformed), "version only")
    }

    @Test("a future format version falls back to the UID, not to counterfeit")
    func unsupportedVersion() throws {
        var payload = try CardRecordEncoder.payload(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
        payload[0] = 0x02
        let result = verifier.check(payload: payload, uid: Fixture.uid)
        #expect(result == .unsupportedVersion(2))
        #expect(result.presentation(uid: Fixture.uid, technology: .ntag215) == .chip(uid: Fixture.uid, technology: .ntag215, record: nil))
    }

    @Test("content the format cannot carry is refused at issuance")
    func encodingErrors() {
        let n = Fixture.number("ABCD")
        let u = Fixture.uid
        let k = Fixture.key1
        #expect(throws: CardEncodingError.noEntitlements) {
            try CardRecordEncoder.payload(for: CardRecordContent(number: n, entitlements: [], validUntil: nil), uid: u, key: k)
        }
        #expect(throws: CardEncodingError.roleWithoutLargeFamily) {
            try CardRecordEncoder.payload(for: CardRecordContent(number: n, entitlements: [.senior60], role: .parent, validUntil: nil), uid: u, key: k)
        }
        #expect(throws: CardEncodingError.largeFamilyWithoutRole) {
            try CardRecordEncoder.payload(for: CardRecordContent(number: n, entitlements: [.largeFamily], validUntil: nil), uid: u, key: k)
        }
        let late = Fixture.day("2149-06-06")
        #expect(throws: CardEncodingError.validUntilOutOfRange(late)) {
            try CardRecordEncoder.payload(for: CardRecordContent(number: n, entitlements: [.staff], validUntil: late), uid: u, key: k)
        }
        let early = Fixture.day("1969-12-31")
        #expect(throws: CardEncodingError.validUntilOutOfRange(early)) {
            try CardRecordEncoder.payload(for: CardRecordContent(number: n, entitlements: [.staff], validUntil: early), uid: u, key: k)
        }
    }

    @Test("the check maps to the presentation the reader hands on")
    func presentations() throws {
        let image = try Fixture.image()
        guard case .chip(let uid, .ntag213, let record?) = verifier.presentation(userMemory: image, uid: Fixture.uid, technology: .ntag213) else {
            Issue.record("a verified card must present as a chip with its record")
            return
        }
        #expect(uid == Fixture.uid)
        #expect(record.number == Fixture.content.number)
        let blank: [UInt8] = [0x03, 0x00, 0xFE, 0x00]
        #expect(verifier.presentation(userMemory: blank, uid: Fixture.uid, technology: .ntag213) == .chip(uid: Fixture.uid, technology: .ntag213, record: nil))
        // Broken framing in a complete read: no identifiable CUS record, so the UID decides.
        let cut = Array(image.prefix(40))
        #expect(verifier.presentation(userMemory: cut, uid: Fixture.uid, technology: .ntag213) == .chip(uid: Fixture.uid, technology: .ntag213, record: nil))
        let copied = verifier.presentation(userMemory: image, uid: Fixture.otherUID, technology: .ntag216)
        #expect(copied == .counterfeit(uid: Fixture.otherUID, technology: .ntag216, why: .otherChip))
    }

    @Test("capability containers match the NXP datasheets")
    func capabilityContainers() throws {
        #expect(TagType.ntag213.capabilityContainer == [0xE1, 0x10, 0x12, 0x00])
        #expect(TagType.ntag215.capabilityContainer == [0xE1, 0x10, 0x3E, 0x00])
        #expect(TagType.ntag216.capabilityContainer == [0xE1, 0x10, 0x6D, 0x00])
        #expect(TagType.ntag213.dataAreaSize == 144)
        for tag in TagType.allCases {
            #expect(try TagType.dataAreaSize(capabilityContainer: tag.capabilityContainer) == tag.dataAreaSize)
        }
        #expect(throws: CardMemoryError.notNDEFFormatted) { try TagType.dataAreaSize(capabilityContainer: [0, 0, 0, 0]) }
        #expect(throws: CardMemoryError.notNDEFFormatted) { try TagType.dataAreaSize(capabilityContainer: [0xE1, 0x20, 0x12, 0x00]) }
        #expect(throws: CardMemoryError.notNDEFFormatted) { try TagType.dataAreaSize(capabilityContainer: [0xE1, 0x10]) }
    }
}
