//! Prints a new random API key (256 bits, prefixed `alk_` so secret scanners can find leaked
//! ones). Put it in your secret store and point `NAME` or `NAME_FILE` at it.
//!
//! ```text
//! cargo run -p airlock --bin airlock-keygen            # one key
//! cargo run -p airlock --bin airlock-keygen -- --id main   # as `main:alk_…` for a key ring
//! ```

fn main() {
    let mut args = std::env::args().skip(1);
    let id = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--id"), Some(id)) if !id.is_empty() && id.len() <= 32
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => Some(id),
        _ => {
            eprintln!("usage: airlock-keygen [--id ID]   (ID: 1-32 of A-Z a-z 0-9 _ -)");
            std::process::exit(2);
        }
    };
    let key = airlock::generate_key();
    match id {
        Some(id) => println!("{id}:{key}"),
        None => println!("{key}"),
    }
}
