// Package jwttest makes RSA keys, JWKS documents and signed Agent Identity
// JWTs for tests of the identity package and of identitytest.
//
// Tokens are signed with RS256 through github.com/golang-jwt/jwt/v5, except
// with keys under 1024 bits (which crypto/rsa refuses), whose PKCS #1 v1.5
// signatures are computed by hand so that verifiers' own size checks can be
// tested. Every key here is a public test key: never use one outside tests.
package jwttest
