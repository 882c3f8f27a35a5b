public import CentralWire
public import Foundation
import CardModel

/// Checks a catalogue as a whole before anyone relies on it: the central before storing a version
/// staff wrote, a kiosk before replacing the one it holds.
public enum CatalogueCheck {
    /// Every problem found, in words staff can act on; empty when the catalogue is usable.
    public static func problems(_ catalogue: Catalogue) -> [String] {
        var out: [String] = []
        func idOK(_ id: String) -> Bool {
            (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
        }
        func textOK(_ t: LocalizedText, max: Int) -> Bool {
            [t.pl, t.uk, t.en].allSatisfy { !$0.trimmingSpaces.isEmpty && $0.count <= max }
        }
        if catalogue.version < 1 { out.append("version must be 1 or more") }
        if catalogue.services.isEmpty { out.append("the catalogue lists no service") }
        if catalogue.services.count > 200 || catalogue.bundles.count > 100 { out.append("at most 200 services and 100 bundles") }
        var ids: Set<String> = []
        for s in catalogue.services {
            let at = "service \(s.id.prefix(64))"
            if !idOK(s.id) { out.append("\(at): an id is 1 to 64 lower-case letters, digits or '_'") }
            if !ids.insert(s.id).inserted { out.append("\(at): the id is used twice") }
            if !textOK(s.name, max: 120) { out.append("\(at): name needs pl, uk and en, at most 120 characters each") }
            if !textOK(s.description, max: 300) { out.append("\(at): description needs pl, uk and en, at most 300 characters each") }
            if !textOK(s.nextStep, max: 300) { out.append("\(at): next_step needs pl, uk and en, at most 300 characters each") }
            if s.provider.name.trimmingSpaces.isEmpty { out.append("\(at): provider needs a name") }
            if s.access.isEmpty && s.publicFee == nil { out.append("\(at): nobody may request it (no access rule and no public_fee)") }
            for rule in s.access {
                if rule.roles != nil && rule.entitlement != .largeFamily { out.append("\(at): roles apply to large_family only") }
                if let roles = rule.roles, roles.isEmpty { out.append("\(at): roles, when given, name at least one role") }
            }
            for fee in s.access.map(\.fee) + [s.publicFee].compactMap({ $0 }) {
                if fee.kind != .free && (fee.amountGrosze ?? -1) < 0 { out.append("\(at): a \(fee.kind.rawValue) fee needs amount_grosze of 0 or more") }
                if let per = fee.per, !textOK(per, max: 40) { out.append("\(at): a fee's per needs pl, uk and en") }
            }
            var fieldIDs: Set<String> = []
            for f in s.fields {
                if !idOK(f.id) || ["phone", "service", "session", "bundle"].contains(f.id) { out.append("\(at): field id \(f.id.prefix(64)) is not allowed") }
                if !fieldIDs.insert(f.id).inserted { out.append("\(at): field \(f.id) is listed twice") }
                if !textOK(f.label, max: 120) { out.append("\(at): field \(f.id) needs a label in pl, uk and en") }
                if let a = f.min, let b = f.max, a > b { out.append("\(at): field \(f.id) has min above max") }
            }
            if let q = s.quota, q.limit < 1 { out.append("\(at): a quota's limit is 1 or more") }
            if !(0...30).contains(s.leadDays) { out.append("\(at): lead_days is 0 to 30") }
        }
        for b in catalogue.bundles {
            let at = "bundle \(b.id.prefix(64))"
            if !idOK(b.id) { out.append("\(at): an id is 1 to 64 lower-case letters, digits or '_'") }
            if !ids.insert(b.id).inserted { out.append("\(at): the id is used by another service or bundle") }
            if !textOK(b.name, max: 120) || !textOK(b.description, max: 300) || !textOK(b.nextStep, max: 300) {
                out.append("\(at): name, description and next_step need pl, uk and en")
            }
            if b.services.count < 2 || Set(b.services).count != b.services.count { out.append("\(at): a bundle names at least two different services") }
            for id in b.services where catalogue.service(id: id) == nil { out.append("\(at): no service \(id.prefix(64))") }
        }
        return out
    }
}

/// The period a quota counts in, for one request.
public enum QuotaPeriod {
    /// The calendar month in Warsaw that `date` falls in, as `YYYY-MM`.
    public static func month(of date: Date) -> String {
        String(CivilDate(date, in: .warsaw).iso.prefix(7))
    }
}
