//! The SOAP runtime over real sockets: SOAP 1.1 and 1.2 calls, dispatch,
//! the WSDL, faults, the XML safety checks, producers, and a stock Python
//! zeep client.

use std::net::SocketAddr;
use std::time::Duration;

use evently::Config;
use evently::Running;
use evently::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct Greeting(&'static str);

evently! {
    state Greeting;

    soap "/calc" Add => add;
    soap "/calc" Divide => divide;
    soap "/calc" Echo => echo;
    soap "/calc" Broken => broken;
    soap "/calc" Explode => explode;
    soap "/orders" Place + amqp produce "soap.placed" => place;
}

#[derive(Serialize, Deserialize)]
struct Operands {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize)]
struct Outcome {
    result: i64,
}

async fn add(Operands { a, b }: Operands) -> Result<Outcome, Fault> {
    Ok(Outcome { result: a + b })
}

async fn divide(Operands { a, b }: Operands) -> Result<Outcome, Fault> {
    a.checked_div(b)
        .map(|result| Outcome { result })
        .ok_or_else(|| Fault::client("cannot divide by zero"))
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

/// Every kind of field the WSDL describes.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Card {
    name: String,
    count: u32,
    active: bool,
    note: Option<String>,
    tags: Vec<String>,
    at: Point,
}

#[derive(Serialize, Deserialize)]
struct Greeted {
    greeting: String,
    card: Card,
}

async fn echo(State(greeting): State<Greeting>, card: Card) -> Result<Greeted, Fault> {
    Ok(Greeted {
        greeting: format!("{} {}", greeting.0, card.name),
        card,
    })
}

#[derive(Serialize, Deserialize)]
struct Nothing {}

async fn broken(_: Nothing) -> Result<Nothing, std::io::Error> {
    Err(std::io::Error::other("the database is on fire"))
}

async fn explode(_: Nothing) -> Result<Nothing, Fault> {
    panic!("the operation blew up")
}

#[derive(Serialize, Deserialize)]
struct Order {
    item: String,
    quantity: u32,
}

#[derive(Serialize, Deserialize)]
struct Placed {
    accepted: bool,
}

/// Publishes the order once finished; a refused order publishes nothing.
async fn place(order: Order, placed: Producer) -> Result<Placed, Fault> {
    placed
        .send(&serde_json::json!({ "item": order.item, "quantity": order.quantity }))
        .await
        .map_err(|_| Fault::server("the order could not be queued"))?;
    if order.quantity == 0 {
        return Err(Fault::client("an order needs a quantity"));
    }
    Ok(Placed { accepted: true })
}

const V11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const V12: &str = "http://www.w3.org/2003/05/soap-envelope";
const BODY_LIMIT: usize = 64 * 1024;

async fn start() -> (Running, String) {
    let config = Config::default()
        .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .body_limit(BODY_LIMIT);
    let running = App::with_config(config, Greeting("Hello"))
        .unwrap()
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", running.local_addr());
    (running, base)
}

fn envelope(namespace: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"{namespace}\" \
         xmlns:c=\"urn:evently:calc\"><s:Header/><s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// POSTs a SOAP 1.1 envelope with an optional `SOAPAction`.
async fn call11(base: &str, path: &str, action: Option<&str>, body: &str) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "text/xml; charset=utf-8")
        .body(envelope(V11, body));
    if let Some(action) = action {
        request = request.header("SOAPAction", format!("\"{action}\""));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POSTs a SOAP 1.2 envelope with the action in the content type.
async fn call12(base: &str, action: &str, body: &str) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/calc"))
        .header(
            "content-type",
            format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
        )
        .body(envelope(V12, body))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

fn assert_client_fault(status: u16, text: &str, reason: &str) {
    assert_eq!(status, 500, "{text}");
    assert!(
        text.contains("<faultcode>soap:Client</faultcode>"),
        "{text}"
    );
    assert!(text.contains(reason), "expected {reason:?} in {text}");
}

#[tokio::test]
async fn soap_11_calls_answer_in_the_target_namespace() {
    let (_running, base) = start().await;
    let add = "<c:Add><a>1</a><b>2</b></c:Add>";
    let (status, text) = call11(&base, "/calc", Some("urn:evently:calc/Add"), add).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&format!("xmlns:soap=\"{V11}\"")), "{text}");
    assert!(text.contains("xmlns:tns=\"urn:evently:calc\""), "{text}");
    assert!(
        text.contains("<tns:AddResponse><result>3</result></tns:AddResponse>"),
        "{text}"
    );
}

#[tokio::test]
async fn soap_12_calls_and_faults_use_the_12_envelope_and_statuses() {
    let (_running, base) = start().await;
    let divide = |b: i64| format!("<c:Divide><a>9</a><b>{b}</b></c:Divide>");
    let (status, content_type, text) = call12(&base, "urn:evently:calc/Divide", &divide(3)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("application/soap+xml"),
        "{content_type}"
    );
    assert!(text.contains(&format!("xmlns:soap=\"{V12}\"")), "{text}");
    assert!(text.contains("<result>3</result>"), "{text}");

    let (status, _, text) = call12(&base, "urn:evently:calc/Divide", &divide(0)).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("<soap:Value>soap:Sender</soap:Value>"),
        "{text}"
    );
    assert!(text.contains("cannot divide by zero"), "{text}");

    let (status, _, text) = call12(&base, "Broken", "<Broken/>").await;
    assert_eq!(status, 500, "{text}");
    assert!(
        text.contains("<soap:Value>soap:Receiver</soap:Value>"),
        "{text}"
    );
}

#[tokio::test]
async fn the_action_picks_the_operation_and_the_body_element_is_the_fallback() {
    let (_running, base) = start().await;
    let add = "<c:Add><a>4</a><b>5</b></c:Add>";

    // No action, or an empty one: the Body's element decides.
    let (status, text) = call11(&base, "/calc", None, add).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<result>9</result>"), "{text}");
    let (status, text) = call11(&base, "/calc", Some(""), add).await;
    assert_eq!(status, 200, "{text}");

    // The short name works as an action too.
    let (status, text) = call11(&base, "/calc", Some("Add"), add).await;
    assert_eq!(status, 200, "{text}");

    // An action that disagrees with the Body, or names nothing.
    let (status, text) = call11(&base, "/calc", Some("urn:evently:calc/Divide"), add).await;
    assert_client_fault(status, &text, "names the operation `Divide`");
    let (status, text) = call11(&base, "/calc", Some("urn:other/Add"), add).await;
    assert_client_fault(
        status,
        &text,
        "the action `urn:other/Add` names no operation",
    );
}

#[tokio::test]
async fn the_wsdl_describes_every_operation_and_type() {
    let (running, base) = start().await;
    let response = reqwest::get(format!("{base}/calc?wsdl")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let wsdl = response.text().await.unwrap();

    // Well-formed: every event reads.
    let mut reader = quick_xml::Reader::from_str(&wsdl);
    let mut elements = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(_) | quick_xml::events::Event::Empty(_)) => {
                elements += 1;
            }
            Ok(_) => {}
            Err(error) => panic!("the WSDL is not well-formed: {error}\n{wsdl}"),
        }
    }
    assert!(elements > 50, "{wsdl}");

    let address = format!("location=\"http://{}/calc\"", running.local_addr());
    for expected in [
        address.as_str(),
        "targetNamespace=\"urn:evently:calc\"",
        "<soap:binding style=\"document\"",
        "<soap12:binding style=\"document\"",
        "soapAction=\"urn:evently:calc/Divide\"",
        "<xsd:element name=\"Add\" type=\"tns:Operands\"/>",
        "<xsd:element name=\"AddResponse\" type=\"tns:Outcome\"/>",
        "<xsd:element name=\"a\" type=\"xsd:long\"/>",
        "<xsd:element name=\"count\" type=\"xsd:unsignedInt\"/>",
        "<xsd:element name=\"active\" type=\"xsd:boolean\"/>",
        "<xsd:element name=\"note\" type=\"xsd:string\" minOccurs=\"0\"/>",
        "<xsd:element name=\"tags\" type=\"xsd:string\" minOccurs=\"0\" maxOccurs=\"unbounded\"/>",
        "<xsd:element name=\"at\" type=\"tns:Point\"/>",
        "<xsd:complexType name=\"Point\">",
        "<xsd:element name=\"x\" type=\"xsd:double\"/>",
    ] {
        assert!(wsdl.contains(expected), "no {expected} in\n{wsdl}");
    }

    // Without `?wsdl`, GET says where the WSDL is.
    let plain = reqwest::get(format!("{base}/calc")).await.unwrap();
    assert_eq!(plain.status(), 404);
    assert!(plain.text().await.unwrap().contains("?wsdl"));
}

#[tokio::test]
async fn nested_optional_and_repeated_fields_round_trip_with_state() {
    let (_running, base) = start().await;
    let card = "<c:Echo><name>Ada &amp; Co</name><count>2</count><active>true</active>\
                <tags>x</tags><tags>y</tags><at><x>1.5</x><y>-2</y></at></c:Echo>";
    let (status, text) = call11(&base, "/calc", None, card).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("<greeting>Hello Ada &amp; Co</greeting>"),
        "{text}"
    );
    assert!(text.contains("<tags>x</tags><tags>y</tags>"), "{text}");
    assert!(text.contains("<at><x>1.5</x><y>-2</y></at>"), "{text}");
}

#[tokio::test]
async fn a_doctype_with_an_external_entity_is_refused_and_nothing_is_read() {
    let (_running, base) = start().await;
    let secret = std::env::temp_dir().join(format!("evently-soap-xxe-{}", std::process::id()));
    let marker = format!("secret-{}", std::process::id());
    std::fs::write(&secret, &marker).unwrap();

    let body = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM \"file://{}\">]>\
         <s:Envelope xmlns:s=\"{V11}\"><s:Body><Echo><name>&xxe;</name><count>1</count>\
         <active>true</active><at><x>0</x><y>0</y></at></Echo></s:Body></s:Envelope>",
        secret.display()
    );
    let response = reqwest::Client::new()
        .post(format!("{base}/calc"))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    std::fs::remove_file(&secret).unwrap();
    assert_client_fault(status, &text, "DOCTYPE");
    assert!(!text.contains(&marker), "the file was read: {text}");

    // Without a DOCTYPE, the reference is to an undeclared entity.
    let echo = "<Echo><name>&xxe;</name></Echo>";
    let (status, text) = call11(&base, "/calc", None, echo).await;
    assert_client_fault(status, &text, "undeclared entity `&amp;xxe;`");
}

#[tokio::test]
async fn billion_laughs_is_refused() {
    let (_running, base) = start().await;
    let mut doctype = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        let refs = format!("&{previous};").repeat(10);
        doctype.push_str(&format!("<!ENTITY lol{level} \"{refs}\">"));
    }
    doctype.push_str("]>");
    let body = format!(
        "{doctype}<s:Envelope xmlns:s=\"{V11}\"><s:Body><Echo><name>&lol9;</name></Echo>\
         </s:Body></s:Envelope>"
    );
    let response = reqwest::Client::new()
        .post(format!("{base}/calc"))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_client_fault(status, &text, "DOCTYPE");
    assert!(text.len() < 1024, "{text}");
}

#[tokio::test]
async fn deep_nesting_and_oversized_bodies_are_refused() {
    let (_running, base) = start().await;
    let deep = format!("<Echo>{}{}</Echo>", "<at>".repeat(200), "</at>".repeat(200));
    let (status, text) = call11(&base, "/calc", None, &deep).await;
    assert_client_fault(status, &text, "deeper than the limit of 64");

    let name = "n".repeat(BODY_LIMIT + 1);
    let large = format!("<Echo><name>{name}</name></Echo>");
    let (status, text) = call11(&base, "/calc", None, &large).await;
    assert_client_fault(
        status,
        &text,
        &format!("larger than the limit of {BODY_LIMIT} bytes"),
    );
}

#[tokio::test]
async fn bad_requests_get_client_faults_naming_the_problem() {
    let (_running, base) = start().await;

    let (status, text) = call11(&base, "/calc", None, "<Add><a>1</b></Add>").await;
    assert_client_fault(status, &text, "not well-formed XML");

    let (status, text) = call11(&base, "/calc", None, "<Multiply><a>1</a></Multiply>").await;
    assert_client_fault(
        status,
        &text,
        "`Multiply` is not an operation of this service",
    );
    assert!(text.contains("`Add`, `Divide`, `Echo`"), "{text}");

    let (status, text) = call11(&base, "/calc", None, "<Add><a>one</a><b>2</b></Add>").await;
    assert_client_fault(status, &text, "the `Add` element does not fit");

    let (status, text) = call11(&base, "/calc", None, "").await;
    assert_client_fault(status, &text, "holds no operation element");

    // A 1.2 envelope sent as 1.1.
    let response = reqwest::Client::new()
        .post(format!("{base}/calc"))
        .header("content-type", "text/xml")
        .body(envelope(V12, "<Add><a>1</a><b>2</b></Add>"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_client_fault(
        status,
        &response.text().await.unwrap(),
        "not a SOAP 1.1 envelope",
    );

    let response = reqwest::Client::new()
        .post(format!("{base}/calc"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("soap:Client") && text.contains("`application/json`"),
        "{text}"
    );
}

#[tokio::test]
async fn handler_errors_and_panics_are_server_faults_and_serving_goes_on() {
    let (_running, base) = start().await;
    let (status, text) = call11(&base, "/calc", None, "<Broken/>").await;
    assert_eq!(status, 500);
    assert!(
        text.contains("<faultcode>soap:Server</faultcode>"),
        "{text}"
    );
    assert!(
        !text.contains("on fire"),
        "the error's text is logged, not sent: {text}"
    );

    for _ in 0..3 {
        let (status, text) = call11(&base, "/calc", None, "<Explode/>").await;
        assert_eq!(status, 500);
        assert!(
            text.contains("<faultcode>soap:Server</faultcode>"),
            "{text}"
        );
        let (status, text) = call11(&base, "/calc", None, "<Add><a>1</a><b>1</b></Add>").await;
        assert_eq!(status, 200, "{text}");
    }
}

#[tokio::test]
async fn produce_resources_publish_once_finished() {
    let (running, base) = start().await;
    let broker = running.broker().expect("the app has a broker");
    let tag = format!("tea-{}", std::process::id());

    let place =
        |quantity: u32| format!("<Place><item>{tag}</item><quantity>{quantity}</quantity></Place>");
    let (status, text) = call11(&base, "/orders", None, &place(2)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("<tns:PlaceResponse><accepted>true</accepted>"),
        "{text}"
    );
    let messages = broker.take("soap.placed", 1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].json(),
        serde_json::json!({ "item": tag, "quantity": 2 })
    );

    // A fault drops what the handler sent.
    let (status, text) = call11(&base, "/orders", None, &place(0)).await;
    assert_client_fault(status, &text, "an order needs a quantity");
    let extra = broker
        .take("soap.placed", 1, Duration::from_millis(500))
        .await;
    assert!(
        extra.is_empty(),
        "a refused order published {:?}",
        extra[0].json()
    );
}

/// The stock zeep client loads the WSDL and calls the operations, through
/// both bindings.
#[tokio::test]
async fn a_stock_zeep_client_loads_the_wsdl_and_calls() {
    let python = std::env::var("EVENTLY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EVENTLY_TEST_PYTHON is not set: run `bash .ci/test`, which installs zeep")
    });
    let (_running, base) = start().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/soap_client.py"
    );
    // The client blocks; the service keeps running on this test's runtime.
    let run = {
        let python = python.clone();
        let wsdl = format!("{base}/calc?wsdl");
        move || {
            std::process::Command::new(python)
                .arg(script)
                .arg(wsdl)
                .output()
        }
    };
    let output = tokio::task::spawn_blocking(run)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{python} does not run ({e}): run `bash .ci/test`"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the zeep client failed (run `bash .ci/test` if zeep is missing):\n{stderr}"
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["add"], 3, "{seen}");
    assert_eq!(seen["divide"], 3, "{seen}");
    assert_eq!(seen["add12"], 12, "{seen}");
    assert_eq!(seen["fault"]["message"], "cannot divide by zero", "{seen}");
    assert!(
        seen["fault"]["code"].as_str().unwrap().ends_with("Client"),
        "{seen}"
    );
    assert_eq!(
        seen["fault12"]["message"], "cannot divide by zero",
        "{seen}"
    );
    assert!(
        seen["fault12"]["code"]
            .as_str()
            .unwrap()
            .ends_with("Sender"),
        "{seen}"
    );
    assert_eq!(seen["echo"]["greeting"], "Hello Ada", "{seen}");
    assert_eq!(
        seen["echo"]["tags"],
        serde_json::json!(["x", "y"]),
        "{seen}"
    );
    assert_eq!(
        seen["echo"]["at"],
        serde_json::json!({ "x": 1.5, "y": -2.0 }),
        "{seen}"
    );
    assert_eq!(seen["echo"]["count"], 7, "{seen}");
    assert_eq!(seen["echo"]["active"], true, "{seen}");
}
