import CardCheck
import CardModel
import Foundation
import Testing

/// Builds dates without ceremony; test data only.
func day(_ iso: String) -> CivilDate {
    do { return try CivilDate(iso: iso) } catch { preconditionFailure("bad test date \(iso)") }
}

func number(_ text: String) -> CardNumber {
    do { return try CardNumber(normalising: text) } catch { preconditionFailure("bad test number \(text)") }
}

func record(
    status: CardStatus = .active, from: String? = "2020-01-01", until: String? = nil, replaced: Bool = false,
    _ entitlements: [Entitlement]
) -> CardRecord {
    CardRecord(
        number: number("SKS-0001"), uid: nil, technology: .printed, series: nil, status: status,
        validFrom: from.map(day), validUntil: until.map(day), isReplaced: replaced,
        holderDisplayName: "Anna K.", entitlements: entitlements
    )
}

let policy = CheckPolicy()
let typed = Presentation.typed(number("SKS-0001"))

@Suite("Check policy")
struct CheckPolicyTests {
    @Test("an entitlement is valid through its last day and expired the day after")
    func lastDay() {
        let card = record([Entitlement(kind: .disability, validFrom: day("2024-01-01"), validUntil: day("2026-03-29"))])
        let onLastDay = policy.verdict(for: card, presentation: typed, today: day("2026-03-29"))
        #expect(onLastDay.verdict == .valid)
        #expect(onLastDay.daysToExpiry == 0)
        #expect(onLastDay.entitlements.map(\.kind) == [.disability])
        let dayAfter = policy.verdict(for: card, presentation: typed, today: day("2026-03-30"))
        #expect(dayAfter.verdict == .expired)
        #expect(dayAfter.entitlements.isEmpty)
        #expect(dayAfter.reason.pl.contains("29 marca 2026"))
    }

    @Test("expiry follows midnight in Warsaw across the spring DST change")
    func midnightWarsawSpring() throws {
        // Valid until Saturday 2026-03-28; DST starts Sunday 2026-03-29 at 02:00 CET.
        let card = record([Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: day("2026-03-28"))])
        let iso = ISO8601DateFormatter()
        // 22:59:59 UTC on the 28th is 23:59:59 CET: still the 28th in Warsaw.
        let before = try #require(iso.date(from: "2026-03-28T22:59:59Z"))
        // 23:00:00 UTC is 00:00 CET on the 29th: expired, although it is still the 28th in UTC.
        let after = try #require(iso.date(from: "2026-03-28T23:00:00Z"))
        #expect(policy.verdict(for: card, presentation: typed, today: FixedClock(before).today()).verdict == .valid)
        #expect(policy.verdict(for: card, presentation: typed, today: FixedClock(after).today()).verdict == .expired)
    }

    @Test("expiry follows midnight in Warsaw across the autumn DST change (UTC+2 → UTC+1)")
    func midnightWarsawAutumn() throws {
        // Valid until 2026-10-24; DST ends 2026-10-25 at 03:00 CEST. Midnight of the 25th is 22:00 UTC on the 24th.
        let card = record([Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: day("2026-10-24"))])
        let iso = ISO8601DateFormatter()
        let before = try #require(iso.date(from: "2026-10-24T21:59:59Z"))
        let after = try #require(iso.date(from: "2026-10-24T22:00:00Z"))
        #expect(FixedClock(before).today() == day("2026-10-24"))
        #expect(FixedClock(after).today() == day("2026-10-25"))
        #expect(policy.verdict(for: card, presentation: typed, today: FixedClock(before).today()).verdict == .valid)
        #expect(policy.verdict(for: card, presentation: typed, today: FixedClock(after).today()).verdict == .expired)
        // In winter Warsaw is UTC+1: midnight is 23:00 UTC.
        let winter = try #require(iso.date(from: "2026-11-30T23:00:00Z"))
        #expect(FixedClock(winter).today() == day("2026-12-01"))
    }

    @Test("a card valid for one entitlement and expired for another shows only the valid one")
    func mixedEntitlements() {
        let card = record([
            Entitlement(kind: .largeFamily, role: .child, validFrom: day("2015-01-01"), validUntil: day("2026-09-30")),
            Entitlement(kind: .disability, validFrom: day("2020-01-01"), validUntil: day("2028-02-29")),
        ])
        let r = policy.verdict(for: card, presentation: typed, today: day("2026-11-23"))
        #expect(r.verdict == .valid)
        #expect(r.entitlements.map(\.kind) == [.disability])
        #expect(r.entitlements.first?.daysToExpiry == day("2026-11-23").days(until: day("2028-02-29")))
        #expect(r.daysToExpiry == r.entitlements.first?.daysToExpiry)
    }

    @Test("an open-ended entitlement makes days to expiry nil")
    func openEnded() {
        let card = record([
            Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil),
            Entitlement(kind: .disability, validFrom: day("2020-01-01"), validUntil: day("2027-01-01")),
        ])
        let r = policy.verdict(for: card, presentation: typed, today: day("2026-11-23"))
        #expect(r.verdict == .valid)
        #expect(r.daysToExpiry == nil)
        #expect(r.entitlements.count == 2)
    }

    @Test("a lost, revoked, replaced or suspended card names nobody; an expired one still greets its holder")
    func refusalsNameNobody() {
        let valid = [Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil)]
        for status in [CardStatus.lost, .revoked, .suspended] {
            #expect(policy.verdict(for: record(status: status, valid), presentation: typed, today: day("2026-11-23")).holderDisplayName == nil, "\(status)")
        }
        #expect(policy.verdict(for: record(status: .active, replaced: true, valid), presentation: typed, today: day("2026-11-23")).holderDisplayName == nil)
        let old = [Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: day("2021-01-01"))]
        #expect(policy.verdict(for: record(old), presentation: typed, today: day("2026-11-23")).holderDisplayName == "Anna K.")
    }

    @Test("suspended, revoked and lost are told apart and refuse whatever the dates")
    func statuses() {
        let valid = [Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil)]
        let cases: [(CardStatus, Verdict, String)] = [
            (.suspended, .suspended, "suspended"), (.revoked, .revoked, "revoked"), (.lost, .lost, "lost"), (.active, .valid, "valid"),
        ]
        for (status, verdict, code) in cases {
            let r = policy.verdict(for: record(status: status, valid), presentation: typed, today: day("2026-11-23"))
            #expect(r.verdict == verdict, "status \(status)")
            #expect(r.reasonCode == code)
            #expect(r.entitlements.isEmpty == (verdict != .valid))
        }
    }

    @Test("a replaced card is refused with a reason that points to the new card")
    func replaced() {
        let valid = [Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil)]
        let r = policy.verdict(for: record(status: .revoked, replaced: true, valid), presentation: typed, today: day("2026-11-23"))
        #expect(r.verdict == .revoked)
        #expect(r.reasonCode == "replaced")
        #expect(r.reason.pl.contains("nową kartą"))
        // Even if the registry forgot to revoke it, a replaced chip is not honoured.
        let active = policy.verdict(for: record(status: .active, replaced: true, valid), presentation: typed, today: day("2026-11-23"))
        #expect(active.verdict == .revoked)
    }

    @Test("not yet valid: the card's start date, or every entitlement's, is in the future")
    func notYetValid() {
        let future = [Entitlement(kind: .largeFamily, role: .child, validFrom: day("2027-01-01"), validUntil: day("2040-01-01"))]
        let r = policy.verdict(for: record(from: nil, future), presentation: typed, today: day("2026-12-31"))
        #expect(r.verdict == .notYetValid)
        #expect(r.reason.pl.contains("1 stycznia 2027"))
        #expect(policy.verdict(for: record(from: nil, future), presentation: typed, today: day("2027-01-01")).verdict == .valid)
        let cardLater = record(from: "2027-02-01", [Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil)])
        #expect(policy.verdict(for: cardLater, presentation: typed, today: day("2027-01-15")).verdict == .notYetValid)
    }

    @Test("unknown, unreadable and counterfeit presentations")
    func otherPresentations() throws {
        let uid = try ChipUID(hex: "04A2241A7B5C80")
        #expect(policy.verdict(for: nil, presentation: typed, today: day("2026-11-23")).verdict == .unknown)
        let uidOnly = policy.verdict(for: nil, presentation: .chip(uid: uid, technology: .iso14443a, record: nil), today: day("2026-11-23"))
        #expect(uidOnly.verdict == .unknown)
        #expect(uidOnly.card.masked == "…5C80")
        let torn = policy.verdict(for: nil, presentation: .unreadable(technology: .ntag215), today: day("2026-11-23"))
        #expect(torn.verdict == .unreadable)
        #expect(torn.reason.pl.contains("Przyłóż kartę ponownie"))
        let fake = policy.verdict(for: nil, presentation: .counterfeit(uid: uid, technology: .ntag215, why: .otherChip), today: day("2026-11-23"))
        #expect(fake.verdict == .counterfeit)
    }

    @Test("a UID-only card is low assurance, a signed one high; a signed card unknown to the replica is accepted offline")
    func assuranceAndOffline() throws {
        let uid = try ChipUID(hex: "04A2241A7B5C80")
        var card = record([Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil)])
        card.uid = uid
        let byUID = policy.verdict(for: card, presentation: .chip(uid: uid, technology: .iso14443a, record: nil), today: day("2026-11-23"))
        #expect(byUID.verdict == .valid)
        #expect(byUID.assurance == .low)
        let signed = VerifiedCardRecord(number: number("KDR-2005"), entitlements: [.largeFamily], role: .child, validUntil: day("2030-09-30"), keyID: 1)
        let offline = policy.verdict(for: nil, presentation: .chip(uid: uid, technology: .ntag215, record: signed), today: day("2026-11-23"))
        #expect(offline.verdict == .valid)
        #expect(offline.acceptedOffline)
        #expect(offline.assurance == .high)
        #expect(offline.entitlements.first?.role == .child)
        let expiredSigned = policy.verdict(for: nil, presentation: .chip(uid: uid, technology: .ntag215, record: signed), today: day("2030-10-01"))
        #expect(expiredSigned.verdict == .expired)
    }

    @Test("a signed chip whose number the registry knows on another chip, or on no chip, is refused and sent to the desk")
    func withdrawnChip() throws {
        let oldChip = try ChipUID(hex: "04A2241A7B5C80")
        let signed = VerifiedCardRecord(number: number("SKS-0001"), entitlements: [.senior60], role: nil, validUntil: nil, keyID: 1)
        let valid = [Entitlement(kind: .senior60, validFrom: day("2020-01-01"), validUntil: nil)]
        var onNewChip = record(valid)
        onNewChip.uid = try ChipUID(hex: "04A2241A7B5C81")
        onNewChip.technology = .ntag215
        let printedOnly = record(valid)
        for current in [onNewChip, printedOnly] {
            let r = policy.verdict(for: current, presentation: .chip(uid: oldChip, technology: .ntag215, record: signed), today: day("2026-11-23"))
            #expect(r.verdict == .revoked)
            #expect(r.reasonCode == "replaced")
            #expect(r.reason.pl.contains("Biura Obsługi Klienta"))
            #expect(r.holderDisplayName == nil)
            #expect(r.entitlements.isEmpty)
        }
    }
}

@Suite("Card numbers and days")
struct CardModelTests {
    @Test("typed numbers are normalised: spaces, dashes and case")
    func normalise() throws {
        #expect(try CardNumber(normalising: " sks-0001 2021 ").value == "SKS00012021")
        #expect(try CardNumber(normalising: "SKS 0001-2021") == CardNumber(normalising: "sks00012021"))
        #expect(throws: CardNumberError.invalidCharacter) { try CardNumber(normalising: "12345'; DROP") }
        #expect(throws: CardNumberError.empty) { try CardNumber(normalising: "  - ") }
        #expect(throws: CardNumberError.tooShort) { try CardNumber(normalising: "12") }
        #expect(try CardNumber(normalising: "SKS00012021").masked == "…2021")
    }

    @Test("UIDs parse from hex with or without colons, 4, 7 or 10 bytes")
    func uids() throws {
        #expect(try ChipUID(hex: "04:a2:24:1a:7b:5c:80").hex == "04A2241A7B5C80")
        #expect(try ChipUID(hex: "C3304455").bytes == [0xC3, 0x30, 0x44, 0x55])
        #expect(throws: ChipUIDError.badLength(5)) { try ChipUID(hex: "0102030405") }
        #expect(throws: ChipUIDError.notHex) { try ChipUID(hex: "04:ZZ:24:1A") }
    }

    @Test("calendar days: leap years, arithmetic, and impossible days refused")
    func civilDates() throws {
        #expect(throws: CivilDateError.noSuchDay) { try CivilDate(iso: "2025-02-29") }
        #expect(throws: CivilDateError.notISO) { try CivilDate(iso: "29.02.2028") }
        #expect(day("2028-02-28").adding(days: 1) == day("2028-02-29"))
        #expect(day("2026-12-31").adding(days: 1) == day("2027-01-01"))
        #expect(day("2026-11-23").days(until: day("2027-11-23")) == 365)
        #expect(day("1970-01-01").dayNumber == 0)
    }

    @Test("every day from 1900 to 2999 is written as YYYY-MM-DD and read back as the same day")
    func isoText() throws {
        var d = day("1900-01-01")
        var count = 0
        while d.year < 3000 {
            let text = d.iso
            #expect(text == String(format: "%04d-%02d-%02d", d.year, d.month, d.day))
            #expect(try CivilDate(iso: text) == d)
            count += 1
            if d == day("2999-12-31") { break }
            d = d.adding(days: 1)
        }
        #expect(count == 401_767)  // 1,100 years of 365 days and 267 leap days
    }
}
