//! Records the commit being built (`STELE_COMMIT`) for `stele_build_info`:
//! `STELE_COMMIT` from the environment when set, else `git rev-parse`, else
//! `unknown` (a build from a source archive). And rebuilds the crate when a
//! migration is added or changed: `sqlx::migrate!` embeds them, and cargo
//! cannot see that on its own.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STELE_COMMIT");
    println!("cargo:rerun-if-changed=migrations");
    let commit = std::env::var("STELE_COMMIT").ok().filter(|c| !c.is_empty()).or_else(git_commit);
    println!("cargo:rustc-env=STELE_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
}

fn git_commit() -> Option<String> {
    let git_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.git");
    // Rebuild when HEAD moves: a branch switch changes HEAD, a commit changes the ref it names.
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD"))
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed={}", git_dir.join(reference).display());
    }
    let output = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
