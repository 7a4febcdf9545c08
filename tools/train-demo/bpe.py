"""The demo model's own CLIP-format vocabulary: vocab.json + merges.txt (Hugging Face
CLIPTokenizer layout) covering the caption words.

Ids: 0..255 the byte symbols in GPT-2 bytes_to_unicode order, 256..511 the same with
"</w>" (word end), then one token per merge in rank order, then <|startoftext|> and
<|endoftext|> -- the structure of OpenAI's vocabulary, with about a hundred merges instead
of 48894. Any text still tokenizes (into byte symbols); each caption word is one token.
"""
import json

BOS, EOS, WORD_END = "<|startoftext|>", "<|endoftext|>", "</w>"


def _printable(b):
    return ord("!") <= b <= ord("~") or ord("¡") <= b <= ord("¬") or ord("®") <= b <= ord("ÿ")


def byte_symbol_map():
    """byte -> symbol: printable Latin-1 bytes keep their own character, the other 68 move
    to U+0100 onwards in byte order."""
    out, extra = {}, 0
    for b in range(256):
        if _printable(b):
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


BYTE_SYMBOL = byte_symbol_map()


def byte_symbols():
    """The 256 byte symbols in id order: the printable bytes first, then the others."""
    return ([BYTE_SYMBOL[b] for b in range(256) if _printable(b)]
            + [BYTE_SYMBOL[b] for b in range(256) if not _printable(b)])


def word_symbols(word):
    """A word's initial symbols: one per byte, the last one with </w>."""
    syms = [BYTE_SYMBOL[b] for b in word.encode("utf-8")]
    syms[-1] += WORD_END
    return syms


def bpe(word, ranks):
    """CLIP's BPE of one word: repeatedly join the adjacent pair of lowest merge rank."""
    syms = word_symbols(word)
    while len(syms) > 1:
        pairs = [(ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(syms, syms[1:]))]
        rank, i = min(pairs)
        if rank == float("inf"):
            break
        a, b = syms[i], syms[i + 1]
        out, j = [], 0
        while j < len(syms):  # join every occurrence of the pair, left to right
            if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                out.append(a + b)
                j += 2
            else:
                out.append(syms[j])
                j += 1
        syms = out
    return syms


def build(words):
    """Merges (in rank order) that make every word a single token. New merges always rank
    after the existing ones, so a word made whole earlier stays whole."""
    merges, ranks, tokens = [], {}, set()
    base = byte_symbols()
    tokens.update(base)
    tokens.update(s + WORD_END for s in base)
    for word in words:
        while True:
            syms = bpe(word, ranks)
            if len(syms) == 1:
                break
            # the leftmost pair whose join is a new token string
            for i in range(len(syms) - 1):
                if syms[i] + syms[i + 1] not in tokens:
                    break
            else:
                raise ValueError(f"cannot make '{word}' a single token")
            pair = (syms[i], syms[i + 1])
            ranks[pair] = len(merges)
            merges.append(pair)
            tokens.add(pair[0] + pair[1])
    return merges


class Vocabulary:
    def __init__(self, words):
        self.merges = build(sorted(set(words)))
        base = byte_symbols()
        order = base + [s + WORD_END for s in base] + [a + b for a, b in self.merges] + [BOS, EOS]
        self.ids = {tok: i for i, tok in enumerate(order)}
        assert len(self.ids) == len(order), "token strings must be unique"
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self.bos, self.eos = self.ids[BOS], self.ids[EOS]

    def __len__(self):
        return len(self.ids)

    def encode(self, text):
        """Ids of a caption (lower-case words separated by spaces), no BOS/EOS."""
        out = []
        for word in text.lower().split():
            assert word.isascii() and word.isalpha(), f"caption word '{word}'"
            out += [self.ids[s] for s in bpe(word, self.ranks)]
        return out

    def window(self, text):
        """The 77 ids the text encoder sees: BOS, the words, EOS, then EOS padding (SD 1.x)."""
        ids = [self.bos] + self.encode(text)[:75] + [self.eos]
        return ids + [self.eos] * (77 - len(ids))

    def write(self, folder):
        with open(f"{folder}/vocab.json", "w", encoding="utf-8") as f:
            json.dump(self.ids, f, ensure_ascii=False, indent=0)
            f.write("\n")
        with open(f"{folder}/merges.txt", "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in self.merges:
                f.write(f"{a} {b}\n")
        with open(f"{folder}/special_tokens_map.json", "w", encoding="utf-8") as f:
            special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
            json.dump(special, f, indent=2)
            f.write("\n")
