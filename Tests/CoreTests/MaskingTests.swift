import Backends
@testable import Core
import Foundation
import FundqTestSupport
import RedisDriver
import Testing

/// The masking functions: URLs of every shape, secret values in any form,
/// the personal-data policy, card numbers and email addresses in text.
@Suite("masking")
struct MaskingTests {
    @Test(arguments: [
        ("mysql:/fundq:SECRET@127.0.0.1:3306/fundq", "mysql:/***@127.0.0.1:3306/fundq"),
        ("mysql://fundq:SECRET@db:3306/fundq", "mysql://***@db:3306/fundq"),
        ("redis://:SECRET@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        ("redis://SECRET@h", "redis://***@h"),
        ("fundq:SECRET@127.0.0.1", "fundq:***@127.0.0.1"),
        ("SECRET@127.0.0.1", "***@127.0.0.1"),
        ("mysql://u:p@SS/w#rd?SECRET@db/x", "mysql://***@db/x"),
        ("mysql://fundq:SECRET127.0.0.1:3306/fundq", "mysql://***/fundq"),
        ("redis://127.0.0.1:SECRET", "redis://***"),
        ("redis://127.0.0.1:31415926535/0", "redis://***/0"),
        ("host:SECRET", "***"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://[::1]:6379", "redis://[::1]:6379"),
        ("https://api.example.org/nvp?user=a&password=SECRET", "https://api.example.org/nvp?user=***&password=***"),
        ("127.0.0.1:6379", "127.0.0.1:6379"),
    ])
    func aURLIsMaskedWhateverItsShape(url: String, masked: String) {
        #expect(SecretMasking.url(url) == masked)
        #expect(!SecretMasking.url(url).contains("SECRET"))
    }

    @Test func urlsInsideAMessageAreMaskedAndTheRestIsLeftAlone() {
        let message = "database URL 'mysql:/fundq:SECRET@127.0.0.1:3306/fundq' must start with mysql://; "
            + "cannot reach Redis at 127.0.0.1:6390: connection refused (redis://:SECRET@10.0.0.1:6379/2). "
            + "Mail ada@example.org at 10:00:00."
        let out = SecretMasking.urls(in: message)
        #expect(!out.contains("SECRET"))
        #expect(out.contains("'mysql:/***@127.0.0.1:3306/fundq'"))
        #expect(out.contains("(redis://***@10.0.0.1:6379/2)."))
        #expect(out.contains("cannot reach Redis at 127.0.0.1:6390: connection refused"))
        #expect(out.contains("ada@example.org at 10:00:00."))
    }

    /// `'(),;` end a word in a message, but not inside a URL: a password may
    /// hold them (the part after one was shown, having no `:` of its own).
    @Test func aPasswordHoldingPunctuationIsMaskedWhole() {
        for password in ["Hunter2;SECRET", "Hunter2,SECRET", "Hunter2(SECRET)", "Hunter2'SECRET"] {
            let message = "endpoint https://api:\(password)@api-3t.example.org/nvp (from FUNDQ_PAYPAL_ENDPOINT); "
                + "proxy 'http://u:\(password)@proxy:3128', then (see https://example.org/x)."
            let masked = SecretMasking.urls(in: message)
            #expect(!masked.contains("SECRET") && !masked.contains("Hunter2"), "\(password): \(masked)")
            #expect(masked == "endpoint https://***@api-3t.example.org/nvp (from FUNDQ_PAYPAL_ENDPOINT); "
                    + "proxy 'http://***@proxy:3128', then (see https://example.org/x).", "\(masked)")
            let unicode = SecretMasking.characterURLs(in: "é " + message)
            #expect(unicode == "é " + masked, "\(unicode)")
        }
        // A second URL joined to the first by one of them is masked as a URL of its own; `NAME=URL` as a URL.
        for (message, masked) in [
            ("https://a.example/x,mysql://fundq:Hunter2-SECRET127.0.0.1:3306/fundq", "https://a.example/x,mysql://***/fundq"),
            ("redis://h:6379,mysql://fundq:SECRETdb/x", "redis://h:6379,mysql://***/x"),
            ("FUNDQ_QUEUE_URL=redis://:Hunter2;SECRET@127.0.0.1:6379 is refused", "FUNDQ_QUEUE_URL=redis://***@127.0.0.1:6379 is refused"),
            ("--db-url=mysql://fundq:Hunter2-SECRET127.0.0.1:3306/fundq", "--db-url=mysql://***/fundq"),
        ] {
            #expect(SecretMasking.urls(in: message) == masked, "\(SecretMasking.urls(in: message))")
            #expect(SecretMasking.characterURLs(in: message) == masked, "\(SecretMasking.characterURLs(in: message))")
        }
    }

    /// An error about a Redis reply says what the reply was, not what it
    /// held: a claimed message's body is donor data.
    @Test func aRedisReplyIsDescribedByItsShapeNotItsContents() {
        let body = Array(#"{"email":"ada@example.org","card_num":"4111111111111111"}"#.utf8)
        let reply = RedisReply.array([.bulk(body), .integer(7), .bulk(Array("r-1".utf8))])
        #expect(reply.shape == "an array of 3 (bulk, integer, bulk)")
        #expect(RedisReply.bulk(body).shape == "a bulk string of \(body.count) bytes")
        for shown in [reply.shape, RedisReply.bulk(body).shape] {
            #expect(!shown.contains("ada") && !shown.contains("4111") && !shown.contains("123, 34"), "\(shown)")
        }
    }

    @Test func secretValuesAreMaskedInsideLongerTextAndInTheirEncodedForms() {
        let masker = SecretMasker(secrets: ["p&ss word+/", "ab"])
        #expect(masker.masked("PWD=p%26ss%20word%2B%2F&X=1") == "PWD=***&X=1")
        #expect(masker.masked("PWD=p%26ss+word%2B%2F") == "PWD=***")
        #expect(masker.masked("<PWD>p&amp;ss word+/</PWD>") == "<PWD>***</PWD>")
        #expect(masker.masked("ref-p&ss word+/-tail") == "ref-***-tail")
        #expect(masker.masked("about abc") == "about abc", "values under three characters are not looked for")
    }

    @Test func overlappingAndAdjacentSecretsAreMaskedWhole() {
        // The longest form alone used to be replaced first, which left the start of the other secret in the text.
        let masker = SecretMasker(secrets: ["tokenAB12", "AB12tail99", "xyz"])
        #expect(masker.masked("k=tokenAB12tail99;") == "k=***;")
        #expect(masker.masked("xyzxyz tokenAB12") == "*** ***")
        #expect(masker.masked("no secret here") == "no secret here")
        let nonASCII = SecretMasker(secrets: ["pässwörd"])
        #expect(nonASCII.masked("PWD=pässwörd&PWD2=p%C3%A4ssw%C3%B6rd") == "PWD=***&PWD2=***")
    }

    @Test func theASCIIPathMasksURLsExactlyAsTheCharacterPath() {
        let messages = [
            "database URL 'mysql:/fundq:SECRET@127.0.0.1:3306/fundq' must start with mysql://; done.",
            "(redis://:SECRET@10.0.0.1:6379/2).\r\nnext line\tmysql://u:p@h/db?ssl-ca=/x@y&k=v",
            "RETURNURL=https://donate.example.org/return?token=abc,CANCELURL=https://x.org/c\u{0B}host:SECRET@h",
            "plain words: 10:00:00, ada@example.org; <a href=\"https://u:p@h/\">link</a> `fundq:SECRET@127.0.0.1`",
        ]
        for message in messages {
            #expect(SecretMasking.asciiURLs(in: message) == SecretMasking.characterURLs(in: message), "\(message)")
            #expect(!SecretMasking.urls(in: message).contains("SECRET"))
        }
    }

    @Test func cardNumbersAreMaskedToTheirLastFourWhetherOrNotLuhnValid() {
        #expect(PersonalData.maskedCardNumbers(in: "card 4111 1111 1111 1111 exp 12/28") == "card ****1111 exp 12/28")
        #expect(PersonalData.maskedCardNumbers(in: "5555-5555-5555-4444.") == "****4444.")
        #expect(PersonalData.maskedCardNumbers(in: "x4111111111111112y") == "x****1112y", "not Luhn-valid: masked all the same")
        #expect(PersonalData.maskedCardNumbers(in: "id 123456789012") == "id 123456789012", "12 digits: not a card")
        #expect(PersonalData.maskedCardNumbers(in: "id 12345678901234567890") == "id 12345678901234567890", "a 20-digit id")
        #expect(PersonalData.maskedCardNumbers(in: "2026-11-28T00:00:00Z") == "2026-11-28T00:00:00Z")
    }

    @Test func emailAddressesAreMasked() {
        #expect(PersonalData.maskedEmails(in: "write to ada.lovelace+x@mail.example.org, please") == "write to ***@***, please")
        #expect(PersonalData.maskedEmails(in: "redis://***@127.0.0.1:6379") == "redis://***@127.0.0.1:6379")
        #expect(PersonalData.maskedEmails(in: "a @ b") == "a @ b")
    }

    @Test func oneViewPolicyWithAndWithoutPersonalData() throws {
        let message = try JSONParser().parse(#"""
            {"email":"ada@example.org","first_name":"Ada","card_num":"4111111111111111","cvv":"123","gross":"10.00",
             "order_id":"12345678901234","comment":"call 4111-1111-1111-1111 or ada@example.org","date":1764000000000,
             "nested":{"CVV2":"999","email":"x@example.org"}}
            """#).objectValue!
        let masked = PersonalData.masked(message, showPersonalData: false)
        #expect(masked["email"] == .string("***"))
        #expect(masked["first_name"] == .string("***"))
        #expect(masked["card_num"] == .string("****1111"))
        #expect(masked["cvv"] == .string("***"))
        #expect(masked["gross"] == .string("10.00"))
        #expect(masked["order_id"] == .string("12345678901234"), "identifiers are not scanned")
        #expect(masked["date"] == .number("1764000000000"), "numbers are not scanned")
        #expect(masked["comment"] == .string("***"))
        #expect(masked["nested"]?.objectValue?["CVV2"] == .string("***"))
        #expect(masked["nested"]?.objectValue?["email"] == .string("***"))
        let shown = PersonalData.masked(message, showPersonalData: true)
        #expect(shown["email"] == .string("ada@example.org"))
        #expect(shown["comment"] == .string("call ****1111 or ada@example.org"), "a whole card number is never shown")
        #expect(shown["card_num"] == .string("****1111"))
        #expect(shown["cvv"] == .string("***"), "a CVV is never shown")
        let text = PersonalData.maskedBody(Array("not json: ada@example.org 4111111111111111".utf8), showPersonalData: false)
        #expect(text == .string("not json: ***@*** ****1111"))
        let echoed = #"exit 3: {"cvv": "737","first_name":"Ada \"A\"","card_num":4111111111111111,"gross":"1.00","nested":{"email":"x"}}"#
        #expect(PersonalData.maskedText(echoed)
                == #"exit 3: {"cvv": "***","first_name":"***","card_num":"****1111","gross":"1.00","nested":{"email":"***"}}"#)
        #expect(PersonalData.maskedText(echoed, showPersonalData: true)
                == #"exit 3: {"cvv": "***","first_name":"Ada \"A\"","card_num":"****1111","gross":"1.00","nested":{"email":"x"}}"#)
    }

    /// A PayPal notification kept as damaged is a form body, not JSON: masked
    /// by its fields' names, its values percent-decoded before they are
    /// scanned (`ada%40example.org` is an email).
    @Test func aFormBodyIsMaskedFieldByField() {
        let ipn = "txn_type=mass_pay&first_name=Ada&last_name=Lovelace&payer_email=ada%40example.org"
            + "&address_street=1+Main+St&mc_gross=10.00&memo=card+4111+1111+1111+1111&receiver_email=shop%40example.org"
        let masked = PersonalData.maskedBody(Array(ipn.utf8), showPersonalData: false)
        #expect(masked == .string("txn_type=mass_pay&first_name=***&last_name=***&payer_email=***&address_street=***"
                                  + "&mc_gross=10.00&memo=***&receiver_email=***%40***"), "\(masked)")
        let shown = PersonalData.maskedBody(Array(ipn.utf8), showPersonalData: true)
        #expect(shown == .string("txn_type=mass_pay&first_name=Ada&last_name=Lovelace&payer_email=ada%40example.org"
                                 + "&address_street=1+Main+St&mc_gross=10.00&memo=card%20****1111"
                                 + "&receiver_email=shop%40example.org"), "\(shown)")
        // Free text with an equals sign is not a form body.
        #expect(PersonalData.maskedFormBody("a = ada@example.org", showPersonalData: false) == nil)
        #expect(PersonalData.maskedFormBody("first_name=Ada&note=call me", showPersonalData: false) == nil, "a space: not a form body")
        #expect(PersonalData.maskedFormBody(#"{"first_name":"Ada"}"#, showPersonalData: false) == nil)
    }

    /// Processors' JSON names the same fields in camelCase (Ingenico:
    /// `firstName`, `surname`, `cardholderName`, `expiryDate`): one field
    /// whatever its case, `_` or `-`.
    @Test func fieldNamesAreComparedWithoutCaseOrSeparators() throws {
        let answer = #"{"customer":{"personalInformation":{"name":{"firstName":"Ada","surname":"Lovelace"}},"#
            + #""billingAddress":{"street":"Main St","zip":"1234AB","countryCode":"NL"}},"#
            + #""card":{"cardholderName":"A LOVELACE","cardNumber":"4111111111111111","expiryDate":"1230","cvv":"123"},"#
            + #""paymentId":"000000850010000188180000100001","amount":1000}"#
        let masked = PersonalData.maskedText(answer)
        for name in ["Ada", "Lovelace", "Main St", "1234AB", "A LOVELACE", "1230", "123\""] {
            #expect(!masked.contains(name), "\(name) in \(masked)")
        }
        #expect(masked.contains(#""cardNumber":"****1111""#) && masked.contains(#""countryCode":"NL""#), "\(masked)")
        #expect(masked.contains("000000850010000188180000100001") && masked.contains(#""amount":1000"#))
        let parsed = try JSONParser().parse(Array(answer.utf8)).objectValue!
        let card = PersonalData.masked(parsed, showPersonalData: false)["card"]?.objectValue
        #expect(card?["cardholderName"] == .string("***") && card?["expiryDate"] == .string("***"))
        #expect(card?["cardNumber"] == .string("****1111") && card?["cvv"] == .string("***"))
    }

    @Test func secretSettingsComeFromTheEnvironmentAFileOrTheSecretsFile() throws {
        let dir = try TemporaryDirectory()
        try "pw-from-file\n".write(toFile: dir.file("pw"), atomically: true, encoding: .utf8)
        try "# comment\nFUNDQ_DB_PASSWORD=pw=from=secrets\nFUNDQ_QUEUE_URL=redis://127.0.0.1:7000\n"
            .write(toFile: dir.file("secrets"), atomically: true, encoding: .utf8)
        #expect(try SecretSettings(environment: ["FUNDQ_DB_PASSWORD": "env"]).value("FUNDQ_DB_PASSWORD") == "env")
        #expect(try SecretSettings(environment: ["FUNDQ_DB_PASSWORD_FILE": dir.file("pw")]).value("FUNDQ_DB_PASSWORD") == "pw-from-file")
        let viaSecrets = SecretSettings(environment: ["FUNDQ_SECRETS_FILE": dir.file("secrets")])
        #expect(try viaSecrets.value("FUNDQ_DB_PASSWORD") == "pw=from=secrets")
        #expect(try viaSecrets.value("FUNDQ_QUEUE_PASSWORD") == nil)
        #expect(throws: ConfigurationError.self) {
            try SecretSettings(environment: ["FUNDQ_DB_PASSWORD_FILE": dir.file("nope")]).value("FUNDQ_DB_PASSWORD")
        }

        let configuration = StorageConfiguration(databaseURL: "mysql://fundq@db:3306/fundq",
                                                 environment: ["FUNDQ_SECRETS_FILE": dir.file("secrets")])
        #expect(try configuration.mariaDBURL()?.password == "pw=from=secrets")
        #expect(try configuration.redisURL()?.port == 7000)
        let inURL = StorageConfiguration(databaseURL: "mysql://fundq:url-pw@db/fundq", environment: ["FUNDQ_DB_PASSWORD": "env"])
        #expect(try inURL.mariaDBURL()?.password == "url-pw", "a password in the URL still works and wins")
        let processor = try ProcessorConfiguration.parse("endpoint: https://x.example.org\ncredentials:\n  password: FUNDQ_X_PASSWORD\n",
                                                         name: "x", source: "x.yaml", environment: [:])
        #expect(try Credentials(for: processor, environment: ["FUNDQ_X_PASSWORD_FILE": dir.file("pw")])["password"] == "pw-from-file")
        let settings = SecretSettings(environment: ["FUNDQ_DB_PASSWORD": "hunter2"])
        #expect(!"\(settings)".contains("hunter2") && !String(reflecting: settings).contains("hunter2"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("pw=from=secrets"))
        let redisUser = StorageConfiguration(queueURL: "redis://alice@r:6379", environment: ["FUNDQ_QUEUE_PASSWORD": "pw"])
        #expect(try redisUser.redisURL()?.user == "alice")
        #expect(try redisUser.redisURL()?.password == "pw")
    }
}
