import Core
import Foundation
import FundqTestSupport
import Processors
import Testing

/// A second processor that declares notifications (pure: never configured
/// or called), so that the choice among several can be tested.
final class SecondNotifyingProcessor: NotifyingProcessor {
    static let name = "second-notifier"
    static let gateway = "second-notifier"
    static let capabilities: Set<ProcessorCapability> = [.status]
    static let paymentIdentity = PaymentIdentity.orderID
    static let moneyMovingActions: [MoneyMovingAction] = []
    let configuration: ProcessorConfiguration

    init(configuration: ProcessorConfiguration, credentials: Credentials) throws { self.configuration = configuration }

    func status(of row: PendingRecord) throws -> ProcessorStatus {
        throw ProcessorError(.unsupported(.status), processor: Self.name, action: "status")
    }

    func preview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String { "" }

    static func notificationHandler(configuration: ProcessorConfiguration) throws -> any NotificationHandler {
        throw ConfigurationError("not made in these tests")
    }
}

/// Which processor `fundq ipn` serves: the one named, else the only one
/// that declares notifications; never a guess.
@Suite("Notification registry")
struct NotificationRegistryTests {
    func refusal(_ name: String?, among registered: [any PaymentProcessor.Type] = Processors.all) -> String {
        do {
            let chosen = try Processors.notifying(named: name, among: registered)
            return "chose \(chosen.name)"
        } catch {
            return "\(error)"
        }
    }

    @Test func theOnlyProcessorThatDeclaresNotificationsIsTheDefaultAndAnyThatDoesCanBeNamed() throws {
        #expect(refusal(nil, among: [GlobalCollect.self, PayPalRecurring.self, IngenicoConnect.self]) == "chose paypal-recurring")
        #expect(try Processors.notifying(named: "paypal-recurring").name == PayPalRecurring.name)
        let handler = try PayPalRecurring.notificationHandler(configuration: ProcessorConfiguration.load(
            name: PayPalRecurring.name, directory: RepositoryPaths.processors, environment: [:]))
        #expect(handler.damagedGateway == "paypal" && handler.damagedQueue == "ipn")
    }

    @Test func aProcessorWithoutNotificationsAnUnknownNameNoneOrSeveralAreRefusedNamingTheChoices() {
        let registered: [any PaymentProcessor.Type] = [GlobalCollect.self, PayPalRecurring.self]
        #expect(refusal("globalcollect", among: registered)
                == "processor 'globalcollect' declares no notifications (those that do: paypal-recurring)")
        #expect(refusal("nope", among: registered) == "no processor called 'nope'; registered: globalcollect, paypal-recurring")
        #expect(refusal(nil, among: [GlobalCollect.self, IngenicoConnect.self])
                == "name the processor whose notifications to receive (--processor NAME): "
                + "no registered processor declares notifications")
        let several: [any PaymentProcessor.Type] = [PayPalRecurring.self, SecondNotifyingProcessor.self]
        #expect(refusal(nil, among: several) == "name the processor whose notifications to receive (--processor NAME): "
                + "those that do: paypal-recurring, second-notifier")
        #expect(refusal("second-notifier", among: several) == "chose second-notifier")
    }

    @Test func aMissingVerificationEndpointIsAConfigurationErrorNamingTheSetting() throws {
        let dir = try TemporaryDirectory()
        let yaml = try String(contentsOfFile: RepositoryPaths.processors + "/paypal-recurring.yaml", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("ipn_verify_endpoint") }
        try yaml.joined(separator: "\n").write(toFile: dir.path + "/paypal-recurring.yaml", atomically: true, encoding: .utf8)
        let configuration = try ProcessorConfiguration.load(name: PayPalRecurring.name, directory: dir.path, environment: [:])
        #expect {
            _ = try PayPalRecurring.notificationHandler(configuration: configuration)
        } throws: { error in
            "\(error)".hasSuffix("settings.ipn_verify_endpoint is required for fundq ipn")
        }
    }
}
