//! The main job, end to end: real photos uploaded under honest and hostile client names into a
//! confined store, then classified by a real CNN (open-nsfw) loaded lazily by many threads.
//!
//! Run it through `scripts/demo.sh`, which fetches the pinned assets first. Human-readable
//! output goes to stdout; the audit events go to stderr as JSON lines.
//!
//! ```text
//! cargo run --release -p airlock --example demo -- [ASSETS_DIR] [STORE_DIR]
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::{
    ChannelOrder, ImagePreprocess, Layout, Model, ModelOptions, StoreOptions, UploadStore,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let assets = PathBuf::from(args.next().unwrap_or_else(|| "assets".into()));
    let store_dir = match args.next() {
        Some(p) => PathBuf::from(p),
        None => std::env::temp_dir().join(format!("airlock-demo-{}", std::process::id())),
    };

    // Operational log: JSON lines on stderr. Audit trail: fixed-schema JSON lines in a rotating,
    // mode-0600, per-process file next to the store.
    let audit_dir = store_dir.with_file_name(format!(
        "{}-audit",
        store_dir.file_name().and_then(|n| n.to_str()).unwrap_or("store")
    ));
    let logging = airlock::init_logging(airlock::LoggingConfig::new(
        airlock::AuditConfig::new(&audit_dir)
            .app_name("airlock-demo")
            .app_version(env!("CARGO_PKG_VERSION"))
            .max_bytes(64 * 1024),
    ))?;

    let china = std::fs::read(assets.join("photos/china.jpg"))?;
    let flower = std::fs::read(assets.join("photos/flower.jpg"))?;

    println!("== Confined upload store at {}", store_dir.display());
    let store = UploadStore::open_ambient(
        &store_dir,
        StoreOptions::new()
            .create_dir(true)
            .allow_extensions(["jpg", "jpeg", "png"])
            .check_content(true)
            .max_size(1024 * 1024),
    )?;

    let html = b"<!doctype html><script>fetch('/steal?c='+document.cookie)</script>".to_vec();
    let oversized = {
        let mut v = flower.clone();
        v.resize(3 * 1024 * 1024, 0);
        v
    };
    let uploads: Vec<(&str, &str, &[u8])> = vec![
        ("honest", "china.jpg", &china),
        ("honest", "flower.JPG", &flower),
        ("honest", "Fleur d'e\u{301}te\u{301} 2024.jpeg", &flower),
        ("honest", "china.jpg", &china),
        ("traversal", "../../../etc/passwd.jpg", &china),
        ("traversal", "..\\..\\windows\\system32\\evil.jpg", &flower),
        ("absolute", "/var/www/html/index.jpg", &china),
        ("absolute", "C:\\boot\\photo.jpg", &flower),
        ("device", "CON.jpg", &china),
        ("device", "com\u{b9}.jpg", &flower),
        ("bidi", "invoice\u{202e}gpj.exe", &china),
        ("bidi", "holiday\u{202e}gpj.jpg", &flower),
        ("dotfile", ".htaccess", b"AddType application/x-httpd-php .jpg"),
        ("NUL", "shell.php\u{0}.jpg", &china),
        ("CRLF", "a.jpg\r\n127.0.0.1 - admin [login ok]", &flower),
        ("html as png", "cute-cat.png", &html),
        ("oversized", "huge.jpg", &oversized),
        ("dots only", "..", &china),
    ];
    println!("{:<12} {:<44} -> result", "kind", "client name (escaped)");
    for (kind, client_name, body) in &uploads {
        let shown: String = client_name.escape_debug().collect();
        match store.save(client_name, *body) {
            Ok(stored) => println!(
                "{kind:<12} {shown:<44} -> stored as {:?} ({} bytes, sha256 {}…)",
                stored.name().as_str(),
                stored.size(),
                &stored.sha256_hex()[..12]
            ),
            Err(e) => {
                let rule = e.name_rule().map(|r| format!(" [{}]", r.code())).unwrap_or_default();
                println!("{kind:<12} {shown:<44} -> REFUSED {}{rule}: {e}", e.code());
            }
        }
    }
    let stored = store.list()?;
    println!("\nThe store holds {} files, all directly inside it:", stored.len());
    for name in &stored {
        println!("  {name}");
    }

    println!("\n== Model handle (open-nsfw, ResNet-50-thin, 224x224 BGR)");
    let sha = std::fs::read_to_string(assets.join("open-nsfw.onnx.sha256"))?;
    let sha = sha.split_whitespace().next().unwrap_or_default();
    let preprocess = ImagePreprocess::new(224, 224)
        .channels(ChannelOrder::Bgr)
        .mean([104.0, 117.0, 123.0])
        .layout(Layout::Nhwc);
    let model = Model::open_ambient(
        assets.join("open-nsfw.onnx"),
        ModelOptions::for_images(preprocess).sha256(sha)?.labels(["safe", "nsfw"]),
    )?;
    println!("state before any request: {}", model.status());
    let t0 = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let model = model.clone();
            std::thread::spawn(move || {
                let ready = model.ready();
                (i, ready.map(|_| ()).map_err(|e| e.to_string()))
            })
        })
        .collect();
    let mut last = String::new();
    while !threads.iter().all(|t| t.is_finished()) {
        let now = model.status().name().to_owned();
        if now != last {
            println!("  t+{:>6.0?} ms  state = {now}", t0.elapsed().as_millis());
            last = now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for t in threads {
        let (i, result) = t.join().expect("loader thread");
        if let Err(e) = result {
            println!("  thread {i}: {e}");
        }
    }
    println!("  t+{:>6.0?} ms  state = {}", t0.elapsed().as_millis(), model.status());
    println!("8 threads asked at once; load attempts: {}", model.load_attempts());

    println!("\n== Classifying every stored photo");
    let model = Arc::new(model);
    for name in &stored {
        let start = Instant::now();
        match model.classify_stored(&store, name) {
            Ok(c) => println!(
                "  {:<40} safe={:.4} nsfw={:.4} -> {:<4}  ({:.1} ms)",
                name.as_str(),
                c.scores()[0],
                c.scores()[1],
                c.top_label(),
                start.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => println!("  {:<40} error {}: {e}", name.as_str(), e.code()),
        }
    }
    println!("\n== API keys (production unless APP_ENV says otherwise)");
    let placeholder = airlock::KeyRing::from_lookup("DEMO_API_KEY", airlock::KeyRingOptions::new(), |var| {
        (var == "DEMO_API_KEY").then(|| "dev-key-123".into())
    });
    match placeholder {
        Ok(_) => println!("  placeholder key accepted (unexpected)"),
        Err(e) => println!("  DEMO_API_KEY=<placeholder> -> REFUSED {}: {e}", e.code()),
    }
    let key = airlock::generate_key();
    let ring = airlock::KeyRing::from_lookup("DEMO_API_KEY", airlock::KeyRingOptions::new(), |var| {
        (var == "DEMO_API_KEY").then(|| format!("demo:{key}").into())
    })?;
    println!("  key ring: {ring:?}");
    println!("  verify(generated key) -> {:?}", ring.verify(key.as_bytes()).map(|id| id.to_string()));
    println!("  verify(\"dev-key\")      -> {:?}", ring.verify(b"dev-key").map_err(|e| e.code()));

    println!("\n== CORS");
    let policy = airlock::CorsPolicy::builder()
        .allow_origins(["https://app.example.com", "https://*.example.com"])
        .allow_credentials(true)
        .allow_methods(["GET", "POST"])
        .allow_headers(["content-type", "x-api-key"])
        .build()?;
    for origin in ["https://upload.example.com", "https://example.com.evil.net", "https://app.example.com\r\nSet-Cookie: pwned=1"] {
        let decision = policy.decide(&airlock::CorsRequest {
            origin: Some(origin), method: "POST", request_headers: &["content-type"], preflight: true, private_network: false,
        });
        let shown: String = origin.escape_debug().collect();
        println!("  {shown:<50} -> {} ({})", if decision.is_allowed() { "allowed" } else { "REFUSED" }, decision.reason().code());
        for (name, value) in decision.headers() {
            println!("      {name}: {value}");
        }
    }

    logging.flush();
    println!("\nStore left at {} for inspection.", store_dir.display());
    println!("Audit trail: {} ({} events dropped)", logging.writer().path().display(), logging.dropped_events());
    Ok(())
}
