import CardModel
public import CentralWire
import ServiceRules

/// The reasons the central declines a well-formed request, with the words the resident is shown.
///
/// The central never refuses a resident silently: a request that breaks a business rule when it
/// arrives (the kiosk judged it with an older catalogue or registry, or offline) is stored as
/// `declined` with one of these, and the reason reaches the resident at the next tap.
extension StatusReason {
    /// The service (or one in the bundle) is not in the central's newest catalogue, or not offered now.
    public static let serviceWithdrawn = StatusReason(code: "service_withdrawn", text: UnavailableReason.notOfferedNow.text)

    /// The card number is unknown to the registry, or its current chip is not active or not valid today.
    public static let cardNotValid = StatusReason(code: "card_not_valid", text: LocalizedText(
        pl: "Karta nie jest ważna. Zapytaj w Biurze Obsługi Klienta w Skałce.",
        uk: "Картка недійсна. Запитайте в Бюро обслуговування клієнтів у «Скалці».",
        en: "The card is not valid. Please ask at the customer office in Skałka."
    ))

    /// None of the card's current entitlements opens the service, and it is not open to everyone.
    public static let notEntitled = StatusReason(code: "not_entitled", text: UnavailableReason.noEntitlement.text)

    /// The card's requests for the service this calendar month (Warsaw) already reach its quota.
    public static let quotaUsed = StatusReason(code: "quota_used", text: UnavailableReason.quotaUsed.text)

    /// A coordinator declined it: their words, shown as written in every language.
    public static func coordinator(_ words: String) -> StatusReason {
        StatusReason(code: "coordinator", text: LocalizedText(pl: words, uk: words, en: words))
    }
}
