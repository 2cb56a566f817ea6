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

    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .init();

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
    println!("\nStore left at {} for inspection.", store_dir.display());
    Ok(())
}
