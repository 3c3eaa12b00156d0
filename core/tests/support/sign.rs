//! Test keys and token signing, shared by the JWT tests, the vector generator and the benchmark.
//!
//! The keys live in `tests/vectors/keys.json` (test keys only: never use them for anything
//! else). Signing uses aws-lc-rs, except for the deliberately weak 1024-bit RSA key, which
//! aws-lc-rs refuses to sign with; the pure-Rust `rsa` crate signs that one.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// Path of the committed test keys.
pub fn keys_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/keys.json")
}

/// The kind of a test key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rsa,
    EcP256,
    Ed25519,
}

/// A private test key with its public JWK.
#[derive(Debug, Clone)]
pub struct TestKey {
    pub name: String,
    pub kind: Kind,
    pub pkcs8: Vec<u8>,
    /// The public JWK (without `kid`/`alg`/`use`; add them per case).
    pub jwk: Value,
}

impl TestKey {
    /// The public JWK with `kid` set, and `alg` when given.
    pub fn public_jwk(&self, kid: Option<&str>, alg: Option<&str>) -> Value {
        let mut jwk = self.jwk.clone();
        if let Some(kid) = kid {
            jwk["kid"] = json!(kid);
        }
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    /// Signs `signing_input` with `alg`.
    pub fn sign_bytes(&self, alg: &str, signing_input: &[u8]) -> Vec<u8> {
        match (self.kind, alg) {
            (Kind::Rsa, "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512") => {
                if let Ok(pair) = RsaKeyPair::from_pkcs8(&self.pkcs8) {
                    let encoding: &'static dyn signature::RsaEncoding = match alg {
                        "RS256" => &signature::RSA_PKCS1_SHA256,
                        "RS384" => &signature::RSA_PKCS1_SHA384,
                        "RS512" => &signature::RSA_PKCS1_SHA512,
                        "PS256" => &signature::RSA_PSS_SHA256,
                        "PS384" => &signature::RSA_PSS_SHA384,
                        _ => &signature::RSA_PSS_SHA512,
                    };
                    let mut sig = vec![0u8; pair.public_modulus_len()];
                    pair.sign(encoding, &SystemRandom::new(), signing_input, &mut sig)
                        .expect("RSA signing");
                    sig
                } else {
                    // Keys aws-lc-rs refuses (under 2048 bits): PKCS#1 v1.5 with the `rsa` crate.
                    use rsa::pkcs8::DecodePrivateKey;
                    use rsa::signature::{SignatureEncoding, Signer};
                    assert_eq!(alg, "RS256", "weak RSA keys only sign RS256 here");
                    let key = rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).expect("PKCS#8 RSA key");
                    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
                    signer.sign(signing_input).to_vec()
                }
            }
            (Kind::EcP256, "ES256") => {
                let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8)
                    .expect("P-256 key");
                pair.sign(&SystemRandom::new(), signing_input)
                    .expect("ECDSA signing")
                    .as_ref()
                    .to_vec()
            }
            (Kind::Ed25519, "EdDSA") => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.pkcs8).expect("Ed25519 key");
                pair.sign(signing_input).as_ref().to_vec()
            }
            (kind, alg) => panic!("cannot sign {alg} with a {kind:?} key"),
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS over exactly these header and payload JSON texts (so tests can craft
/// duplicate members, odd types or invalid JSON), signed with `key` using `alg`.
pub fn sign_raw(key: &TestKey, alg: &str, header_json: &str, payload_json: &str) -> String {
    let signing_input = format!("{}.{}", b64(header_json.as_bytes()), b64(payload_json.as_bytes()));
    let sig = key.sign_bytes(alg, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig))
}

/// A compact JWS with header `{"alg": alg, "typ": "JWT", "kid": kid}` plus `extra_header`.
pub fn sign(key: &TestKey, alg: &str, kid: Option<&str>, extra_header: Value, claims: &Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    if let Value::Object(extra) = extra_header {
        for (k, v) in extra {
            header[k] = v;
        }
    }
    sign_raw(key, alg, &header.to_string(), &claims.to_string())
}

/// An HS256 token (for the "symmetric algorithm against a JWK Set" rejection).
pub fn sign_hs256(secret: &[u8], header_json: &str, payload_json: &str) -> String {
    let signing_input = format!("{}.{}", b64(header_json.as_bytes()), b64(payload_json.as_bytes()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(tag.as_ref()))
}

/// Loads the committed test keys.
pub fn load_keys() -> BTreeMap<String, TestKey> {
    let text = std::fs::read_to_string(keys_path()).expect("tests/vectors/keys.json");
    parse_keys(&serde_json::from_str(&text).expect("keys.json is JSON"))
}

pub fn parse_keys(doc: &Value) -> BTreeMap<String, TestKey> {
    doc["keys"]
        .as_object()
        .expect("keys object")
        .iter()
        .map(|(name, k)| {
            let kind = match k["type"].as_str().expect("type") {
                "RSA" => Kind::Rsa,
                "EC-P256" => Kind::EcP256,
                "Ed25519" => Kind::Ed25519,
                other => panic!("unknown key type {other}"),
            };
            let key = TestKey {
                name: name.clone(),
                kind,
                pkcs8: STANDARD
                    .decode(k["pkcs8"].as_str().expect("pkcs8"))
                    .expect("base64 pkcs8"),
                jwk: k["public_jwk"].clone(),
            };
            (name.clone(), key)
        })
        .collect()
}

/// Generates a fresh key of `kind` (RSA of `rsa_bits` bits).
pub fn generate(name: &str, kind: Kind, rsa_bits: usize) -> TestKey {
    match kind {
        Kind::Rsa if rsa_bits >= 2048 => {
            let size = match rsa_bits {
                2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                _ => aws_lc_rs::rsa::KeySize::Rsa4096,
            };
            let pair = RsaKeyPair::generate(size).expect("RSA keygen");
            let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .expect("PKCS#8")
                .as_ref()
                .to_vec();
            let public = pair.public_key();
            let jwk = json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            });
            TestKey {
                name: name.into(),
                kind,
                pkcs8,
                jwk,
            }
        }
        Kind::Rsa => {
            use rsa::pkcs8::EncodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::new(&mut AwsLcRng, rsa_bits).expect("RSA keygen");
            let pkcs8 = key.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec();
            let jwk = json!({
                "kty": "RSA",
                "n": b64(&key.n().to_bytes_be()),
                "e": b64(&key.e().to_bytes_be()),
            });
            TestKey {
                name: name.into(),
                kind,
                pkcs8,
                jwk,
            }
        }
        Kind::EcP256 => {
            let pair =
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 keygen");
            let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8").as_ref().to_vec();
            let point = pair.public_key().as_ref();
            assert_eq!(point.len(), 65);
            let jwk = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64(&point[1..33]),
                "y": b64(&point[33..]),
            });
            TestKey {
                name: name.into(),
                kind,
                pkcs8,
                jwk,
            }
        }
        Kind::Ed25519 => {
            let pair = Ed25519KeyPair::generate().expect("Ed25519 keygen");
            let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8").as_ref().to_vec();
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
            TestKey {
                name: name.into(),
                kind,
                pkcs8,
                jwk,
            }
        }
    }
}

/// The keys file document for `keys`.
pub fn keys_document(keys: &BTreeMap<String, TestKey>) -> Value {
    let mut out = serde_json::Map::new();
    for (name, key) in keys {
        let kind = match key.kind {
            Kind::Rsa => "RSA",
            Kind::EcP256 => "EC-P256",
            Kind::Ed25519 => "Ed25519",
        };
        out.insert(
            name.clone(),
            json!({"type": kind, "pkcs8": STANDARD.encode(&key.pkcs8), "public_jwk": key.jwk}),
        );
    }
    json!({
        "description": "TEST KEYS ONLY — published on purpose so that the vectors can be regenerated and \
                        extended. Private keys are PKCS#8 DER, base64 (standard alphabet).",
        "keys": out,
    })
}

/// `rand_core` 0.6 over aws-lc-rs's system randomness (for the `rsa` crate's key generation).
struct AwsLcRng;

impl rsa::rand_core::RngCore for AwsLcRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        aws_lc_rs::rand::fill(dest).expect("system randomness");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for AwsLcRng {}
