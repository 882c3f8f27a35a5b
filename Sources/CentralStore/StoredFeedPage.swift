public import CentralWire
import Foundation

/// A change-feed page as the store holds it: each entry's JSON exactly as it was written.
///
/// The catch-up route serves these bytes as they are (``json``) instead of decoding every card and
/// encoding it again, which was most of a feed page's cost; ``decoded()`` gives the typed page.
public struct StoredFeedPage: Sendable {
    /// One feed entry and its stored JSON (a `CardView`, `RequestStatusView` or `Catalogue` object).
    public struct Entry: Sendable {
        /// Position in the global sequence.
        public var seq: Int64
        /// What changed.
        public var op: ChangeOp
        /// The entry's object, as written when the change was made.
        public var payload: String

        /// An entry with every field.
        public init(seq: Int64, op: ChangeOp, payload: String) {
            self.seq = seq
            self.op = op
            self.payload = payload
        }
    }

    /// The entries after the cursor, in sequence order.
    public var entries: [Entry]
    /// The cursor for the next call.
    public var nextAfter: Int64
    /// Whether more changes are ready now.
    public var hasMore: Bool

    /// A page with every field.
    public init(entries: [Entry], nextAfter: Int64, hasMore: Bool) {
        self.entries = entries
        self.nextAfter = nextAfter
        self.hasMore = hasMore
    }

    /// The page as the wire's ``ChangePage`` JSON (`{"changes":[…],"has_more":…,"next_after":…}`), each
    /// stored object spliced in unchanged under its op's key (`card`, `request` or `catalogue`).
    public var json: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + entries.reduce(0) { $0 + $1.payload.utf8.count + 48 })
        out.append(contentsOf: #"{"changes":["#.utf8)
        for (i, entry) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"seq":"#.utf8)
            out.append(contentsOf: String(entry.seq).utf8)
            out.append(contentsOf: #","op":""#.utf8)
            out.append(contentsOf: entry.op.rawValue.utf8)
            out.append(contentsOf: #"",""#.utf8)
            out.append(contentsOf: Self.key(for: entry.op).utf8)
            out.append(contentsOf: #"":"#.utf8)
            out.append(contentsOf: entry.payload.utf8)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"],"has_more":"#.utf8)
        out.append(contentsOf: (hasMore ? "true" : "false").utf8)
        out.append(contentsOf: #","next_after":"#.utf8)
        out.append(contentsOf: String(nextAfter).utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The typed page, every payload decoded.
    /// - Throws: ``CentralStoreError`` `.corrupt` when a stored payload does not decode.
    public func decoded() throws(CentralStoreError) -> ChangePage {
        var changes: [Change] = []
        changes.reserveCapacity(entries.count)
        let decoder = JSONDecoder()
        for entry in entries {
            let payload = Data(entry.payload.utf8)
            var change = Change(seq: entry.seq, op: entry.op)
            do {
                switch entry.op {
                case .requestStatus: change.request = try decoder.decode(RequestStatusView.self, from: payload)
                case .catalogue: change.catalogue = try decoder.decode(Catalogue.self, from: payload)
                case .upsert, .remove: change.card = try decoder.decode(CardView.self, from: payload)
                }
            } catch {
                throw CentralStoreError.corrupt("feed entry \(entry.seq) does not decode: \(error)")
            }
            changes.append(change)
        }
        return ChangePage(changes: changes, nextAfter: nextAfter, hasMore: hasMore)
    }

    /// The key a ``Change`` carries its object under for `op`.
    static func key(for op: ChangeOp) -> String {
        switch op {
        case .upsert, .remove: "card"
        case .requestStatus: "request"
        case .catalogue: "catalogue"
        }
    }
}
