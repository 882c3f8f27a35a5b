/// How sure the kiosk is that the person at the screen is the card's holder.
///
/// A tapped card is in the person's hand; a typed number is only something they know, and card
/// numbers are sequential. Requests made in an unverified session carry the flag to the central,
/// where a coordinator confirms them by phone.
public enum Identity: String, Sendable, Codable, CaseIterable {
    /// The card itself was presented (tapped on the reader).
    case verified
    /// A card number was typed in.
    case unverified
}
