package googleanalytics

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// serviceKey is the service account's RSA key, derived from the seed.
type serviceKey struct {
	priv *rsa.PrivateKey
	id   string // private_key_id: the hex SHA-1 of the public key, as Google shows it
	pem  string // PKCS #8 PEM, as in downloaded key files
}

// keys caches derived keys by seed: deriving one costs ~0.1 s, and tests start
// many sandboxes, most of which never see a GA4 request, hence also the laziness.
var keys sync.Map // seed → func() *serviceKey

// keyFor returns the key of seed, the same in every process, deriving it on
// first use.
func keyFor(seed int64) *serviceKey {
	f, _ := keys.LoadOrStore(seed, sync.OnceValue(func() *serviceKey { return deriveKey(seed) }))
	return f.(func() *serviceKey)()
}

// deriveKey builds a 2048-bit RSA key from a seeded stream. crypto/rsa.GenerateKey
// cannot: since Go 1.26 it ignores its io.Reader and always draws secure
// randomness. A sandbox key needs no secrecy, only to be the same on every run so
// a key file written once keeps working.
func deriveKey(seed int64) *serviceKey {
	r := fake.New(seed, "ga4/service-account-key")
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, q := prime(r, 1024), prime(r, 1024)
		n := new(big.Int).Mul(p, q)
		if p.Cmp(q) == 0 || n.BitLen() != 2048 {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue // e shares a factor with p-1 or q-1
		}
		priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
		priv.Precompute()
		if priv.Validate() != nil {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			continue
		}
		pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		sum := sha1.Sum(pub)
		return &serviceKey{
			priv: priv,
			id:   hex.EncodeToString(sum[:]),
			pem:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		}
	}
}

// prime draws odd numbers of exactly bits bits with the top two bits set (so a
// product of two has twice the bits) until one is prime.
func prime(r *fake.Rand, bits int) *big.Int {
	b := make([]byte, bits/8)
	for {
		for i := range b {
			if i%8 == 0 {
				v := r.Uint64()
				for j := 0; j < 8 && i+j < len(b); j++ {
					b[i+j] = byte(v >> (8 * j))
				}
			}
		}
		b[0] |= 0xC0
		b[len(b)-1] |= 1
		p := new(big.Int).SetBytes(b)
		if p.ProbablyPrime(20) {
			return p
		}
	}
}

// keyFile is the JSON Google Cloud hands out for a service-account key.
type keyFile struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
	UniverseDomain          string `json:"universe_domain"`
}

func (k *serviceKey) file(email, tokenURL string) []byte {
	project := "meshflow-sandbox"
	if _, domain, ok := strings.Cut(email, "@"); ok {
		project, _, _ = strings.Cut(domain, ".")
	}
	b, _ := json.MarshalIndent(keyFile{
		Type:                    "service_account",
		ProjectID:               project,
		PrivateKeyID:            k.id,
		PrivateKey:              k.pem,
		ClientEmail:             email,
		ClientID:                "1" + new(big.Int).Mod(k.priv.N, big.NewInt(1e18)).String(),
		AuthURI:                 "https://accounts.google.com/o/oauth2/auth",
		TokenURI:                tokenURL,
		AuthProviderX509CertURL: "https://www.googleapis.com/oauth2/v1/certs",
		ClientX509CertURL:       "https://www.googleapis.com/robot/v1/metadata/x509/" + strings.ReplaceAll(email, "@", "%40"),
		UniverseDomain:          "googleapis.com",
	}, "", "  ")
	return append(b, '\n')
}

// ServiceAccountJSON is the key file of the service account a sandbox started
// with seed accepts (email "" = DefaultClientEmail), with token_uri = tokenURL.
// A different seed gives a well-formed key the sandbox rejects: tests of bad
// credentials use one.
func ServiceAccountJSON(seed int64, email, tokenURL string) []byte {
	if seed == 0 {
		seed = 1
	}
	if email == "" {
		email = DefaultClientEmail
	}
	return keyFor(seed).file(email, tokenURL)
}
