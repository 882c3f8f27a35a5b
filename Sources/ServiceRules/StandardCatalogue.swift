public import CentralWire
public import CardModel

/// The catalogue the central starts with: the 13 CUS Starachowice services and three bundles.
///
/// Documented, rule by rule, in `docs/catalogue.md`; staff change it afterwards through
/// `cus-central catalogue …` or `PUT /v1/staff/catalogue`. Fees are in grosze.
public enum StandardCatalogue {
    /// Version 1 of the catalogue.
    public static let catalogue = Catalogue(version: 1, services: services, bundles: bundles)

    static func t(_ pl: String, _ uk: String, _ en: String) -> LocalizedText { LocalizedText(pl: pl, uk: uk, en: en) }

    static let cus = Provider(kind: .cus, name: "Centrum Usług Społecznych w Starachowicach")
    static func zl(_ grosze: Int, per: LocalizedText? = nil) -> Fee { Fee(kind: .discounted, amountGrosze: grosze, per: per) }
    static func full(_ grosze: Int, per: LocalizedText? = nil) -> Fee { Fee(kind: .full, amountGrosze: grosze, per: per) }
    static let perHour = t("za godzinę", "за годину", "per hour")
    static let perVisit = t("za wizytę", "за візит", "per visit")
    static let perRide = t("za kurs", "за поїздку", "per ride")
    static let perPerson = t("za osobę", "за особу", "per person")

    // Fields, shared by several services.
    static let address = DetailField(id: "address", kind: .address, label: t("Adres, pod którym mamy przyjść", "Адреса, за якою маємо прийти", "The address we should come to"), required: true)
    static let window = DetailField(id: "when", kind: .dateWindow, label: t("W jakie dni możemy przyjść", "У які дні ми можемо прийти", "Which days suit you"), required: true, max: 14)
    static let note = DetailField(id: "note", kind: .note, label: t("Co jeszcze chcesz nam powiedzieć", "Що ще ви хочете нам сказати", "Anything else you want to tell us"), required: false, max: 500)
    static let need = DetailField(id: "note", kind: .note, label: t("W czym mamy pomóc", "У чому ми маємо допомогти", "What we should help with"), required: true, min: 3, max: 500)

    static let callsIn2Days = t(
        "Koordynator zadzwoni w ciągu 2 dni roboczych, aby ustalić termin.",
        "Координатор зателефонує протягом 2 робочих днів, щоб узгодити дату.",
        "A coordinator will call within 2 working days to agree a date."
    )
    static let callsIn5Days = t(
        "Koordynator zadzwoni w ciągu 5 dni roboczych.",
        "Координатор зателефонує протягом 5 робочих днів.",
        "A coordinator will call within 5 working days."
    )

    static let all: [EntitlementKind] = [.senior60, .disability, .largeFamily]

    static let services: [ServiceDefinition] = [
        ServiceDefinition(
            id: "home_care",
            name: t("Usługi opiekuńcze w domu", "Послуги догляду вдома", "Home care"),
            description: t("Opiekunka pomaga w codziennych sprawach w Twoim domu.", "Доглядальниця допомагає з повсякденними справами у вас удома.", "A carer helps with everyday tasks in your home."),
            provider: cus,
            access: [.init(entitlement: .senior60, fee: zl(800, per: perHour)), .init(entitlement: .disability, fee: zl(800, per: perHour))],
            publicFee: full(3200, per: perHour),
            fields: [address, window, note], hours: ServiceHours(weekdays: true, evenings: true, weekends: true), leadDays: 2, nextStep: callsIn2Days
        ),
        ServiceDefinition(
            id: "respite_care",
            name: t("Opieka wytchnieniowa", "Респіс-догляд (відпочинок для опікунів)", "Respite care"),
            description: t("Zastępujemy Cię w opiece nad bliskim, abyś mógł odpocząć.", "Ми замінимо вас у догляді за близькою людиною, щоб ви могли відпочити.", "We take over caring for your relative so that you can rest."),
            provider: Provider(kind: .partner, name: "Stowarzyszenie Opiekunów \"Razem\""),
            access: [.init(entitlement: .disability, fee: .free), .init(entitlement: .senior60, fee: zl(1000, per: perHour)), .init(entitlement: .largeFamily, roles: [.parent], fee: zl(1000, per: perHour))],
            publicFee: nil,
            fields: [address, window, note], quota: Quota(limit: 4), hours: ServiceHours(weekdays: true, evenings: true, nights: true, weekends: true), leadDays: 3, nextStep: callsIn2Days
        ),
        ServiceDefinition(
            id: "training_flats",
            name: t("Mieszkanie chronione treningowe", "Захищене тренувальне житло", "Supported training flat"),
            description: t("Mieszkanie z opieką dla osób w kryzysie i młodzieży opuszczającej pieczę zastępczą.", "Житло з підтримкою для людей у кризі та молоді, яка залишає прийомну опіку.", "A supported flat for people in crisis and young people leaving foster care."),
            provider: cus, access: [], publicFee: .free,
            fields: [need], hours: ServiceHours(), leadDays: 1, nextStep: callsIn5Days
        ),
        ServiceDefinition(
            id: "flat_specialists",
            name: t("Psycholog, prawnik, trener w mieszkaniach", "Психолог, юрист, тренер у житлі", "Psychologist, lawyer, trainer in the flats"),
            description: t("Spotkania ze specjalistą dla mieszkańców mieszkań chronionych.", "Зустрічі зі спеціалістом для мешканців захищеного житла.", "Meetings with a specialist for residents of the supported flats."),
            provider: cus, access: [], publicFee: .free,
            fields: [need], hours: ServiceHours(weekdays: true, evenings: true), leadDays: 1, nextStep: callsIn5Days
        ),
        ServiceDefinition(
            id: "mobile_physiotherapist",
            name: t("Fizjoterapeuta w domu", "Фізіотерапевт удома", "Physiotherapist at home"),
            description: t("Fizjoterapeuta przyjeżdża do Ciebie na ćwiczenia i masaż.", "Фізіотерапевт приїжджає до вас на вправи та масаж.", "A physiotherapist visits you for exercise and massage."),
            provider: Provider(kind: .partner, name: "Centrum Rehabilitacji \"Ruch\""),
            access: [.init(entitlement: .disability, fee: .free), .init(entitlement: .senior60, fee: zl(2000, per: perVisit))],
            publicFee: full(8000, per: perVisit),
            fields: [address, window, note], quota: Quota(limit: 4), hours: ServiceHours(weekdays: true, evenings: true), leadDays: 2, nextStep: callsIn2Days
        ),
        ServiceDefinition(
            id: "senior_taxi",
            name: t("Taksówka CUS", "Таксі CUS", "CUS taxi"),
            description: t("Bus z kierowcą zawiezie Cię do lekarza, urzędu lub na zakupy, w mieście i poza nim.", "Автобус із водієм відвезе вас до лікаря, в установу чи по покупки, у місті й за його межами.", "A bus with a driver takes you to the doctor, an office or the shops, in town and beyond."),
            provider: cus,
            access: [.init(entitlement: .disability, fee: .free), .init(entitlement: .senior60, fee: zl(500, per: perRide))],
            publicFee: nil,
            fields: [
                DetailField(id: "pickup", kind: .place, label: t("Skąd mamy Cię odebrać", "Звідки вас забрати", "Where we pick you up"), required: true),
                DetailField(id: "destination", kind: .place, label: t("Dokąd jedziesz", "Куди ви їдете", "Where you are going"), required: true),
                DetailField(id: "date", kind: .date, label: t("Którego dnia", "Якого дня", "Which day"), required: true, max: 30),
                DetailField(id: "time", kind: .time, label: t("O której godzinie", "О котрій годині", "At what time"), required: true, min: 6 * 60, max: 20 * 60),
                note,
            ],
            quota: Quota(limit: 4), hours: ServiceHours(weekdays: true, evenings: true, weekends: true), leadDays: 1,
            nextStep: t("Kierowca zadzwoni dzień przed kursem.", "Водій зателефонує за день до поїздки.", "The driver will call the day before the ride.")
        ),
        ServiceDefinition(
            id: "handyman",
            name: t("Złota rączka, pomoc domowa, sprzątanie grobów", "Майстер, допомога по дому, прибирання могил", "Handyman, household help, grave cleaning"),
            description: t("Drobne naprawy, pomoc w domu i sprzątanie grobów bliskich.", "Дрібний ремонт, допомога по дому та прибирання могил близьких.", "Small repairs, help at home and cleaning relatives' graves."),
            provider: Provider(kind: .partner, name: "Spółdzielnia Socjalna \"Pomocna Dłoń\""),
            access: [.init(entitlement: .senior60, fee: zl(1000, per: perHour)), .init(entitlement: .disability, fee: zl(1000, per: perHour))],
            publicFee: full(5000, per: perHour),
            fields: [address, window, need], quota: Quota(limit: 2), hours: ServiceHours(weekdays: true, weekends: true), leadDays: 2, nextStep: callsIn2Days
        ),
        ServiceDefinition(
            id: "psychologist",
            name: t("Psycholog i grupy wsparcia", "Психолог і групи підтримки", "Psychologist and support groups"),
            description: t("Rozmowa z psychologiem u Ciebie lub w Skałce i spotkania grup wsparcia.", "Розмова з психологом у вас удома чи в «Скалці» та зустрічі груп підтримки.", "A talk with a psychologist at home or at Skałka, and support group meetings."),
            provider: cus, access: [], publicFee: .free,
            fields: [note], hours: ServiceHours(weekdays: true, evenings: true), leadDays: 1, nextStep: callsIn2Days
        ),
        ServiceDefinition(
            id: "health_programmes",
            name: t("Programy zdrowotne", "Програми здоров'я", "Health programmes"),
            description: t("Pielęgniarka, dietetyk, aqua aerobik, zdrowy kręgosłup i wyjazdy do Solca-Zdroju.", "Медсестра, дієтолог, аквааеробіка, здорова спина та поїздки до Сольця-Здруя.", "Nurse, dietitian, aqua aerobics, healthy-spine classes and trips to Solec-Zdrój."),
            provider: Provider(kind: .partner, name: "Fundacja \"Zdrowy Senior\""),
            access: [.init(entitlement: .senior60, fee: .free), .init(entitlement: .disability, fee: .free)],
            publicFee: full(2000, per: t("za zajęcia", "за заняття", "per class")),
            fields: [note], quota: Quota(limit: 4), hours: ServiceHours(weekdays: true, evenings: true, weekends: true), leadDays: 1, nextStep: callsIn5Days
        ),
        ServiceDefinition(
            id: "theatre_trips",
            name: t("Wyjazdy do teatru i filharmonii", "Поїздки до театру та філармонії", "Theatre and philharmonic trips"),
            description: t("Wspólny wyjazd autokarem na spektakl lub koncert.", "Спільна поїздка автобусом на виставу чи концерт.", "A group coach trip to a play or a concert."),
            provider: cus,
            access: all.map { .init(entitlement: $0, fee: zl(2000, per: perPerson)) },
            publicFee: full(6000, per: perPerson),
            fields: [DetailField(id: "people", kind: .count, label: t("Ile osób pojedzie", "Скільки осіб поїде", "How many people are going"), required: true, min: 1, max: 4), note],
            quota: Quota(limit: 2), hours: ServiceHours(weekdays: true, evenings: true, weekends: true), leadDays: 1, nextStep: callsIn5Days
        ),
        ServiceDefinition(
            id: "community_organising",
            name: t("Organizowanie społeczności lokalnej", "Організація місцевої громади", "Community organising"),
            description: t("Pomagamy sąsiadom wspólnie działać na Wzgórzu, Ostrowieckiej i Łazach.", "Ми допомагаємо сусідам діяти разом на Взгуже, Островецькій і Лазах.", "We help neighbours act together on Wzgórze, Ostrowiecka and Łazy."),
            provider: cus, access: [], publicFee: .free,
            fields: [note], hours: ServiceHours(weekdays: true, evenings: true), leadDays: 1, nextStep: callsIn5Days
        ),
        ServiceDefinition(
            id: "family_crisis_support",
            name: t("Wsparcie dla rodzin w kryzysie", "Підтримка для сімей у кризі", "Support for families in crisis"),
            description: t("Psycholog, pedagog, opieka nad dziećmi, doradca zawodowy i pośrednik pracy.", "Психолог, педагог, догляд за дітьми, профорієнтатор і посередник із працевлаштування.", "A psychologist, an educator, childcare, a career adviser and a job broker."),
            provider: cus,
            access: [.init(entitlement: .largeFamily, roles: [.parent], fee: .free)],
            publicFee: nil,
            fields: [need], hours: ServiceHours(weekdays: true, evenings: true), leadDays: 1, nextStep: callsIn2Days
        ),
        ServiceDefinition(
            id: "vaccinations",
            name: t("Szczepienia przeciw grypie i inne", "Щеплення від грипу та інші", "Flu and other vaccinations"),
            description: t("Szczepienie w punkcie CUS lub w domu dla osób, które nie wychodzą.", "Щеплення в пункті CUS або вдома для тих, хто не виходить.", "A vaccination at a CUS point, or at home for people who cannot go out."),
            provider: Provider(kind: .partner, name: "Przychodnia \"Zdrowie\""),
            access: all.map { .init(entitlement: $0, fee: .free) },
            publicFee: full(5000, per: t("za szczepienie", "за щеплення", "per vaccination")),
            fields: [window, note], quota: Quota(limit: 1), hours: ServiceHours(weekdays: true), leadDays: 2, nextStep: callsIn5Days
        ),
    ]

    static let bundles: [ServiceBundle] = [
        ServiceBundle(
            id: "home_support",
            name: t("Pakiet „Bezpiecznie w domu”", "Пакет «Безпечно вдома»", "\"Safe at home\" bundle"),
            description: t("Opieka, fizjoterapeuta i złota rączka — jedno zgłoszenie.", "Догляд, фізіотерапевт і майстер — одна заявка.", "Care, a physiotherapist and a handyman in one request."),
            services: ["home_care", "mobile_physiotherapist", "handyman"], nextStep: callsIn2Days
        ),
        ServiceBundle(
            id: "senior_health",
            name: t("Pakiet „Zdrowy senior”", "Пакет «Здоровий сеньйор»", "\"Healthy senior\" bundle"),
            description: t("Programy zdrowotne i szczepienie — jedno zgłoszenie.", "Програми здоров'я і щеплення — одна заявка.", "Health programmes and a vaccination in one request."),
            services: ["health_programmes", "vaccinations"], nextStep: callsIn5Days
        ),
        ServiceBundle(
            id: "family_in_crisis",
            name: t("Pakiet „Rodzina w kryzysie”", "Пакет «Сім'я в кризі»", "\"Family in crisis\" bundle"),
            description: t("Wsparcie dla rodziny i psycholog — jedno zgłoszenie.", "Підтримка сім'ї та психолог — одна заявка.", "Family support and a psychologist in one request."),
            services: ["family_crisis_support", "psychologist"], nextStep: callsIn2Days
        ),
    ]

    /// A callback request's next step.
    public static let callbackNextStep = t(
        "Koordynator oddzwoni w ciągu 2 dni roboczych.",
        "Координатор передзвонить протягом 2 робочих днів.",
        "A coordinator will call you back within 2 working days."
    )
}
