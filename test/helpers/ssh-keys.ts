// SSH key pairs for the tests, made by ssh2 (what the FirstBoot provider reads keys with). ssh2 1.17's ed25519
// generator strips a leading zero byte of the public key, so about one pair in 256 is one that its own parseKey
// then refuses ("Malformed OpenSSH private key": mscdex/ssh2#1513, #1390): such a pair is made again.
import { utils } from "ssh2";

export function ed25519KeyPair(): { private: string; public: string } {
  for (let attempt = 0; attempt < 16; attempt++) {
    const pair = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error("ssh2 made 16 unreadable ed25519 key pairs in a row");
}
