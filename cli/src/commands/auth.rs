//! `stele auth`: credentials for the server's configuration file.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use stele_registry::auth::authn::{hash_password, new_token, token_hash};

use crate::output::println;

#[derive(Args, Debug)]
pub struct AuthOpts {
    #[command(subcommand)]
    action: AuthAction,
}

#[derive(Subcommand, Debug)]
enum AuthAction {
    /// Read a password from stdin (one line) and print its Argon2id hash, for `[[auth.users]] password_hash`.
    HashPassword,
    /// Print a new random API token and the `[[auth.tokens]]` entry that accepts it.
    CreateToken {
        /// The token's name: its principal is `token:NAME`.
        #[arg(long)]
        name: String,
        /// Expiry, as an RFC 3339 date-time (e.g. 2027-01-31T00:00:00Z).
        #[arg(long)]
        expires_at: Option<String>,
    },
}

pub fn run(opts: &AuthOpts) -> anyhow::Result<()> {
    match &opts.action {
        AuthAction::HashPassword => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).context("reading the password from stdin")?;
            let password = input.strip_suffix('\n').map_or(input.as_str(), |p| p.strip_suffix('\r').unwrap_or(p));
            if password.is_empty() {
                bail!("no password on stdin: echo -n 'the password' | stele auth hash-password");
            }
            println(&hash_password(password).map_err(|e| anyhow::anyhow!(e))?)
        }
        AuthAction::CreateToken { name, expires_at } => {
            if let Some(at) = expires_at {
                at.parse::<jiff::Timestamp>()
                    .with_context(|| format!("--expires-at {at}: not an RFC 3339 date-time"))?;
            }
            let token = new_token();
            let expiry = expires_at.as_ref().map(|at| format!("expires_at = \"{at}\"\n")).unwrap_or_default();
            println(&format!(
                "token (shown once; give it to the client, e.g. STELE_REGISTRY_TOKEN):\n{token}\n\n\
                 the server's configuration entry:\n[[auth.tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\n{expiry}",
                token_hash(&token)
            ))
        }
    }
}
