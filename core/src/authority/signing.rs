//! RS256 signing keys: generation, encryption at rest, JWK export and JWT signing (aws-lc-rs).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use aws_lc_rs::{aead, hkdf, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Jwk, Secret, SigningKeyInfo, SigningKeyState};
use crate::store::{KeyEncryption, SigningKeyRow};

/// The only signing algorithm.
pub(crate) const ALGORITHM: &str = "RS256";
const NONCE_LEN: usize = 12;
/// The cipher named in the store's record of the master key (`aes-256-gcm:<fingerprint>`).
const SEAL_CIPHER: &str = "aes-256-gcm";

/// Encrypts private keys at rest with AES-256-GCM under a key derived (HKDF-SHA-256) from
/// `AUTHGATE_MASTER_KEY`. The kid is bound as associated data, so ciphertexts cannot be swapped
/// between rows.
pub(crate) struct Sealer {
    key: aead::LessSafeKey,
    fingerprint: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Sealer {
    pub(crate) fn new(master_key: &Secret) -> Result<Sealer> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"authgate/master-key/v1")
            .extract(master_key.expose().as_bytes());
        let okm = prk
            .expand(&[b"signing-key-encryption"], &aead::AES_256_GCM)
            .map_err(|_| Error::Internal("HKDF expand failed".into()))?;
        let key = aead::LessSafeKey::new(aead::UnboundKey::from(okm));
        let mut fp = [0u8; 8];
        prk.expand(&[b"fingerprint"], Len(fp.len()))
            .and_then(|okm| okm.fill(&mut fp))
            .map_err(|_| Error::Internal("HKDF expand failed".into()))?;
        Ok(Sealer {
            key,
            fingerprint: super::hex(&fp),
        })
    }

    /// What is recorded in the store's meta table: the scheme and a fingerprint of the derived
    /// keys (not of the master key itself).
    pub(crate) fn descriptor(&self) -> String {
        format!("{SEAL_CIPHER}:{}", self.fingerprint)
    }

    pub(crate) fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| Error::Internal("the system CSPRNG failed".into()))?;
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| Error::Internal("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    fn open(&self, kid: &str, blob: &[u8]) -> Result<Vec<u8>> {
        let wrong = || {
            Error::FailedPrecondition(format!(
                "signing key {kid} cannot be decrypted: AUTHGATE_MASTER_KEY is not the key it was encrypted with"
            ))
        };
        if blob.len() < NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return Err(wrong());
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, aead::Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

/// The public half of a key, as stored in `public_jwk`.
#[derive(Serialize, Deserialize)]
struct PublicJwk {
    n: String,
    e: String,
}

/// Generates a new RSA-2048 key (slow: call from a blocking thread). Its `state` and
/// `activate_ms` are placeholders: the store decides them when it inserts the key.
pub(crate) fn generate(kid: String, sealer: Option<&Sealer>, now_ms: i64) -> Result<SigningKeyRow> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| Error::Internal("RSA key generation failed".into()))?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| Error::Internal("PKCS#8 encoding failed".into()))?;
    let public = pair.public_key();
    let jwk = PublicJwk {
        n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    };
    let (encryption, private_key) = match sealer {
        Some(s) => (KeyEncryption::Aes256Gcm, s.seal(&kid, pkcs8.as_ref())?),
        None => (KeyEncryption::None, pkcs8.as_ref().to_vec()),
    };
    Ok(SigningKeyRow {
        kid,
        algorithm: ALGORITHM.to_owned(),
        state: SigningKeyState::Active,
        encryption,
        private_key,
        public_jwk: serde_json::to_string(&jwk).map_err(|e| Error::Internal(e.to_string()))?,
        created_ms: now_ms,
        activate_ms: now_ms,
        retired_ms: None,
    })
}

/// A parsed private key ready to sign, with its kid and precomputed JWT header.
pub(crate) struct Signer {
    pub(crate) kid: String,
    pair: RsaKeyPair,
    header_b64: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

impl Signer {
    /// Decrypts (when needed) and parses a stored key.
    pub(crate) fn load(row: &SigningKeyRow, sealer: Option<&Sealer>) -> Result<Signer> {
        let der = match (row.encryption, sealer) {
            (KeyEncryption::None, _) => row.private_key.clone(),
            (KeyEncryption::Aes256Gcm, Some(s)) => s.open(&row.kid, &row.private_key)?,
            (KeyEncryption::Aes256Gcm, None) => {
                return Err(Error::FailedPrecondition(format!(
                    "signing key {} is encrypted at rest: set AUTHGATE_MASTER_KEY",
                    row.kid
                )));
            }
        };
        let pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| Error::Store(format!("signing key {} is not a valid RSA PKCS#8 key", row.kid)))?;
        let header = Header {
            alg: ALGORITHM,
            kid: &row.kid,
            typ: "JWT",
        };
        let header_json = serde_json::to_vec(&header).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Signer {
            kid: row.kid.clone(),
            pair,
            header_b64: URL_SAFE_NO_PAD.encode(header_json),
        })
    }

    /// A compact JWS (RS256) over the JSON of `claims`.
    pub(crate) fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let payload = serde_json::to_vec(claims).map_err(|e| Error::Internal(e.to_string()))?;
        let mut jwt = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 350);
        jwt.push_str(&self.header_b64);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jwt);
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &rand::SystemRandom::new(),
                jwt.as_bytes(),
                &mut sig,
            )
            .map_err(|_| Error::Internal("RSA signing failed".into()))?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut jwt);
        Ok(jwt)
    }
}

/// The JWK of a stored key.
pub(crate) fn jwk(row: &SigningKeyRow) -> Result<Jwk> {
    let public: PublicJwk = serde_json::from_str(&row.public_jwk)
        .map_err(|e| Error::Store(format!("corrupt public key of {}: {e}", row.kid)))?;
    Ok(Jwk {
        kty: "RSA".to_owned(),
        kid: Some(row.kid.clone()),
        use_: Some("sig".to_owned()),
        alg: Some(row.algorithm.clone()),
        n: Some(public.n),
        e: Some(public.e),
        ..Jwk::default()
    })
}

/// The metadata of a stored key.
pub(crate) fn info(row: &SigningKeyRow) -> Result<SigningKeyInfo> {
    Ok(SigningKeyInfo {
        kid: row.kid.clone(),
        algorithm: row.algorithm.clone(),
        state: row.state,
        encrypted: row.encryption != KeyEncryption::None,
        created_at: crate::store::time_from_ms(row.created_ms)?,
        activate_at: crate::store::time_from_ms(row.activate_ms)?,
        retired_at: row.retired_ms.map(crate::store::time_from_ms).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    #[test]
    fn generate_sign_verify_and_seal() {
        let sealer = Sealer::new(&Secret::new("m".repeat(40))).unwrap();
        let row = generate("snk_1".into(), Some(&sealer), 0).unwrap();
        assert_eq!(row.encryption, KeyEncryption::Aes256Gcm);
        let signer = Signer::load(&row, Some(&sealer)).unwrap();
        let jwt = signer.sign(&serde_json::json!({"sub": "x"})).unwrap();
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        let jwk = jwk(&row).unwrap();
        let n = URL_SAFE_NO_PAD.decode(jwk.n.unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(jwk.e.unwrap()).unwrap();
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(sig).unwrap(),
            )
            .unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "kid": "snk_1", "typ": "JWT"})
        );

        // Wrong master key, no master key, or a ciphertext moved to another kid: refused.
        let other = Sealer::new(&Secret::new("n".repeat(40))).unwrap();
        assert_eq!(
            Signer::load(&row, Some(&other)).unwrap_err().code(),
            "failed_precondition"
        );
        assert_eq!(
            Signer::load(&row, None).unwrap_err().code(),
            "failed_precondition"
        );
        let moved = SigningKeyRow {
            kid: "snk_2".into(),
            ..row.clone()
        };
        assert!(Signer::load(&moved, Some(&sealer)).is_err());
        assert_ne!(sealer.descriptor(), other.descriptor());
    }
}
