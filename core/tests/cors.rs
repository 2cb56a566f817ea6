//! The CORS policy against every case of the shared vectors, plus the properties the vectors
//! cannot show alone (no request bytes echoed, cost of large allowlists is a lookup).

mod common;

use airlock::{CorsPolicy, CorsReason, CorsRequest, ErrorCode};

#[derive(serde::Deserialize, Debug)]
struct Expect {
    allowed: bool,
    allow_origin: Option<String>,
    vary_origin: bool,
    allow_private_network: Option<bool>,
}

#[derive(serde::Deserialize, Debug)]
struct Case {
    id: String,
    allowlist: Vec<String>,
    credentials: bool,
    origin: Option<String>,
    method: String,
    request_headers: Vec<String>,
    preflight: bool,
    allow_methods: Vec<String>,
    allow_headers: Vec<String>,
    expect: Expect,
    #[serde(default)]
    config_error: bool,
    #[serde(default)]
    private_network_request: bool,
    #[serde(default)]
    allow_private_network: bool,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(common::testdata("vectors/cors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn policy(case: &Case) -> airlock::Result<CorsPolicy> {
    CorsPolicy::builder()
        .allow_origins(&case.allowlist)
        .allow_credentials(case.credentials)
        .allow_methods(&case.allow_methods)
        .allow_headers(&case.allow_headers)
        .allow_private_network(case.allow_private_network)
        .build()
}

#[test]
fn every_vector_case() {
    let cases = cases();
    assert!(cases.len() >= 43);
    for case in &cases {
        let built = policy(case);
        if case.config_error {
            let err = built.expect_err(&case.id);
            assert_eq!(err.code(), ErrorCode::InvalidConfig, "{}", case.id);
            continue;
        }
        let policy = built.unwrap_or_else(|e| panic!("{}: {e}", case.id));
        let headers: Vec<&str> = case.request_headers.iter().map(String::as_str).collect();
        let decision = policy.decide(&CorsRequest {
            origin: case.origin.as_deref(),
            method: &case.method,
            request_headers: &headers,
            preflight: case.preflight,
            private_network: case.private_network_request,
        });
        let id = &case.id;
        assert_eq!(decision.is_allowed(), case.expect.allowed, "{id}: {:?}", decision.reason());
        assert_eq!(decision.header("Access-Control-Allow-Origin"), case.expect.allow_origin.as_deref(), "{id}");
        let vary = decision.header("Vary").is_some_and(|v| v.split(',').any(|p| p.trim() == "Origin"));
        assert_eq!(vary, case.expect.vary_origin, "{id}");
        let pna = decision.header("Access-Control-Allow-Private-Network") == Some("true");
        assert_eq!(pna, case.expect.allow_private_network.unwrap_or(false), "{id}");
        if decision.is_allowed() {
            let creds = decision.header("Access-Control-Allow-Credentials") == Some("true");
            assert_eq!(creds, case.credentials, "{id}");
            if case.preflight {
                assert!(decision.header("Access-Control-Allow-Methods").is_some(), "{id}");
                assert!(decision.header("Access-Control-Max-Age").is_some(), "{id}");
            }
        } else {
            // A refusal carries no CORS header at all, only Vary.
            assert!(decision.headers().all(|(k, _)| k == "Vary"), "{id}: {:?}", decision);
        }
        // Nothing a header carries is ever the raw request value unless it is canonical.
        for (_, value) in decision.headers() {
            assert!(value.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{id}: {value:?}");
            assert!(value.len() < 300, "{id}");
        }
    }
}

#[test]
fn configuration_errors_are_precise() {
    let err = |origins: &[&str], creds: bool| {
        CorsPolicy::builder().allow_origins(origins).allow_credentials(creds).build().unwrap_err().to_string()
    };
    assert!(err(&["null"], false).contains("null"));
    assert!(err(&["*"], true).contains("credentials"));
    assert!(err(&["*", "https://a.example.com"], false).contains("only entry"));
    assert!(err(&["https://*example.com"], false).contains("whole leftmost label"));
    assert!(err(&["https://app.example.com/api"], false).contains("path"));
    assert!(err(&["https://user@app.example.com"], false).contains("userinfo"));
    assert!(err(&["ftp://app.example.com"], false).contains("scheme"));
    assert!(err(&["https://.*\\.example\\.com"], false).contains("regular-expression"));
    let e = CorsPolicy::builder().allow_methods(["GET\r\nX: y"]).build().unwrap_err();
    assert!(!e.to_string().contains('\r'));
    assert!(CorsPolicy::builder().allow_headers(["bad header"]).build().is_err());
}

#[test]
fn allowed_preflight_headers_are_exact() {
    let policy = CorsPolicy::builder()
        .allow_origins(["https://app.example.com"])
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT"])
        .allow_headers(["Content-Type", "X-API-Key"])
        .max_age(120)
        .build()
        .unwrap();
    let d = policy.decide(&CorsRequest {
        origin: Some("https://app.example.com"),
        method: "PUT",
        request_headers: &["content-type", "X-Api-Key"],
        preflight: true,
        private_network: true,
    });
    assert_eq!(
        d.headers().collect::<Vec<_>>(),
        vec![
            ("Access-Control-Allow-Origin", "https://app.example.com"),
            ("Vary", "Origin"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Allow-Methods", "GET, POST, PUT"),
            ("Access-Control-Allow-Headers", "content-type, x-api-key"),
            ("Access-Control-Max-Age", "120"),
        ]
    );
    // Methods are case-sensitive.
    let d = policy.decide(&CorsRequest {
        origin: Some("https://app.example.com"),
        method: "put",
        request_headers: &[],
        preflight: true,
        private_network: false,
    });
    assert_eq!(d.reason(), CorsReason::MethodNotAllowed);
}

#[test]
fn wildcards_match_one_label_against_large_allowlists() {
    let mut origins: Vec<String> = (0..1000).map(|i| format!("https://app{i}.example.org")).collect();
    origins.push("https://*.tenant.example.com:8443".into());
    let policy = CorsPolicy::builder().allow_origins(&origins).build().unwrap();
    let ask = |origin: &str| {
        policy
            .decide(&CorsRequest { origin: Some(origin), method: "GET", request_headers: &[], preflight: false, private_network: false })
            .is_allowed()
    };
    assert!(ask("https://app999.example.org"));
    assert!(!ask("https://app1000.example.org"));
    assert!(ask("https://a.tenant.example.com:8443"));
    assert!(!ask("https://a.tenant.example.com"));
    assert!(!ask("https://tenant.example.com:8443"));
    assert!(!ask("https://a.b.tenant.example.com:8443"));
    assert!(!ask("http://a.tenant.example.com:8443"));
}

#[test]
fn exposed_headers_only_on_allowed_actual_requests() {
    let policy = CorsPolicy::builder()
        .allow_origins(["https://app.example.com"])
        .expose_headers(["X-Request-Id", "Content-Disposition"])
        .build()
        .unwrap();
    let ask = |origin: &str, preflight: bool| {
        policy.decide(&CorsRequest { origin: Some(origin), method: "GET", request_headers: &[], preflight, private_network: false })
    };
    let actual = ask("https://app.example.com", false);
    assert_eq!(actual.header("Access-Control-Expose-Headers"), Some("X-Request-Id, Content-Disposition"));
    assert_eq!(ask("https://app.example.com", true).header("Access-Control-Expose-Headers"), None);
    assert_eq!(ask("https://evil.example.net", false).header("Access-Control-Expose-Headers"), None);
    assert!(CorsPolicy::builder().expose_headers(["bad header"]).build().is_err());
}

#[test]
fn private_network_access_per_origin() {
    let policy = CorsPolicy::builder()
        .allow_origins(["https://app.example.com", "https://*.devices.example.com", "http://[::1]:8080"])
        .allow_private_network_origins(["https://*.devices.example.com", "http://[::1]:8080"])
        .build()
        .unwrap();
    let pna = |origin: &str, private_network: bool| {
        let d = policy.decide(&CorsRequest {
            origin: Some(origin),
            method: "GET",
            request_headers: &[],
            preflight: true,
            private_network,
        });
        assert!(d.is_allowed(), "{origin}");
        d.header("Access-Control-Allow-Private-Network").map(str::to_owned)
    };
    assert_eq!(pna("https://cam.devices.example.com", true).as_deref(), Some("true"));
    assert_eq!(pna("http://[::1]:8080", true).as_deref(), Some("true"));
    // Allowed for CORS but not opted in to Private Network Access.
    assert_eq!(pna("https://app.example.com", true), None);
    // Not asked for: never volunteered.
    assert_eq!(pna("https://cam.devices.example.com", false), None);
    // Never answered before the origin check.
    let refused = policy.decide(&CorsRequest {
        origin: Some("https://cam.evil.example"),
        method: "GET",
        request_headers: &[],
        preflight: true,
        private_network: true,
    });
    assert!(!refused.is_allowed() && refused.header("Access-Control-Allow-Private-Network").is_none());

    let err = |b: airlock::CorsPolicyBuilder| b.build().unwrap_err().to_string();
    let base = || CorsPolicy::builder().allow_origins(["https://app.example.com"]);
    assert!(err(base().allow_private_network_origins(["https://other.example.com"]))
        .contains("\"https://other.example.com\" is not an allowed CORS origin"));
    assert!(err(base().allow_private_network_origins(["https://*.example.com"]))
        .contains("is not an allowed CORS origin"));
    assert!(err(base().allow_private_network_origins(["null"])).contains("Private Network Access origin \"null\""));
    assert!(err(base().allow_private_network_origins(["*"])).contains("every origin"));
    assert!(err(base().allow_private_network(true).allow_private_network_origins(["https://app.example.com"]))
        .contains("not both"));
    // An exact origin covered by an allowed wildcard may be opted in on its own.
    let covered = CorsPolicy::builder()
        .allow_origins(["https://*.example.com"])
        .allow_private_network_origins(["https://router.example.com"])
        .build()
        .unwrap();
    let d = covered.decide(&CorsRequest {
        origin: Some("https://router.example.com"),
        method: "GET",
        request_headers: &[],
        preflight: true,
        private_network: true,
    });
    assert_eq!(d.header("Access-Control-Allow-Private-Network"), Some("true"));
}

/// IPv6 hosts are compared in the form browsers send (WHATWG): an IPv4-mapped address is
/// `[::ffff:7f00:1]`, never `[::ffff:127.0.0.1]`, however it was configured.
#[test]
fn ipv4_mapped_ipv6_origins_match_the_browser_spelling() {
    for configured in ["http://[::ffff:127.0.0.1]:8080", "http://[::FFFF:7F00:0001]:8080"] {
        let policy = CorsPolicy::builder().allow_origins([configured]).build().unwrap();
        let decide = |origin: &str| {
            policy.decide(&CorsRequest { origin: Some(origin), method: "GET", request_headers: &[], preflight: false, private_network: false })
        };
        let allowed = decide("http://[::ffff:7f00:1]:8080");
        assert!(allowed.is_allowed(), "{configured}");
        let echoed: Vec<_> = allowed.headers().filter(|(n, _)| n.eq_ignore_ascii_case("access-control-allow-origin")).collect();
        assert_eq!(echoed, [("Access-Control-Allow-Origin", "http://[::ffff:7f00:1]:8080")]);
        // The dotted spelling is no browser's: not canonical, refused.
        assert!(!decide("http://[::ffff:127.0.0.1]:8080").is_allowed(), "{configured}");
    }
}
