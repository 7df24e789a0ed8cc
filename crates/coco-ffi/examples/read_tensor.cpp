// Reads one tensor of a sealed safetensors shard through coco_reader_read_at: the header
// length, the JSON header, then only the tensor's bytes (only the chunks they touch are
// decrypted). With PLAIN given, checks the bytes against the unsealed original.
//
// Build (from the repository root, after `cargo build -p coco-ffi`):
//   g++ -std=c++17 -Wall -Wextra -Werror -I crates/coco-ffi/include
//       crates/coco-ffi/examples/read_tensor.cpp target/debug/libcoco_ffi.a -lpthread -ldl -lm
// Usage: read_tensor KEYFILE SHARD.safetensors.coco TENSOR_NAME [PLAIN.safetensors]
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "coco.h"

namespace {

struct ReaderDeleter {
    void operator()(coco_reader *r) const { coco_reader_free(r); }
};
using Reader = std::unique_ptr<coco_reader, ReaderDeleter>;

void check(int64_t rc, const char *what) {
    if (rc < 0) {
        throw std::runtime_error(std::string(what) + ": " +
                                 (coco_last_error() ? coco_last_error() : "unknown error"));
    }
}

std::vector<uint8_t> read_at(const coco_reader *r, uint64_t off, size_t len) {
    std::vector<uint8_t> buf(len);
    int64_t n = coco_reader_read_at(r, off, buf.data(), len);
    check(n, "read_at");
    if (static_cast<size_t>(n) != len) throw std::runtime_error("short read");
    return buf;
}

// Finds `"name":{...}` in the header and returns the two numbers of its "data_offsets".
std::pair<uint64_t, uint64_t> data_offsets(const std::string &header, const std::string &name,
                                           std::string &dtype) {
    size_t at = header.find("\"" + name + "\"");
    if (at == std::string::npos) throw std::runtime_error("no tensor " + name);
    size_t end = header.find('}', at);
    std::string entry = header.substr(at, end - at);
    size_t d = entry.find("\"dtype\"");
    size_t q1 = entry.find('"', entry.find(':', d) + 1);
    dtype = entry.substr(q1 + 1, entry.find('"', q1 + 1) - q1 - 1);
    size_t o = entry.find('[', entry.find("\"data_offsets\""));
    size_t comma = entry.find(',', o);
    uint64_t a = std::stoull(entry.substr(o + 1, comma - o - 1));
    uint64_t b = std::stoull(entry.substr(comma + 1, entry.find(']', comma) - comma - 1));
    return {a, b};
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::cerr << "usage: read_tensor KEYFILE SHARD.coco TENSOR [PLAIN]\n";
        return 2;
    }
    try {
        std::ifstream kf(argv[1], std::ios::binary);
        std::vector<uint8_t> key((std::istreambuf_iterator<char>(kf)), {});
        coco_reader *raw = nullptr;
        check(coco_reader_open(argv[2], key.data(), key.size(), &raw), "open");
        Reader reader(raw);

        auto len_bytes = read_at(reader.get(), 0, 8);
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; i--) header_len = header_len << 8 | len_bytes[i];
        auto header_bytes = read_at(reader.get(), 8, header_len);
        std::string header(header_bytes.begin(), header_bytes.end());

        std::string dtype;
        auto [a, b] = data_offsets(header, argv[3], dtype);
        uint64_t base = 8 + header_len;
        auto tensor = read_at(reader.get(), base + a, b - a);
        std::cout << argv[3] << ": dtype " << dtype << ", " << tensor.size() << " bytes";
        if (dtype == "F32" && tensor.size() >= 8) {
            float v[2];
            std::copy(tensor.begin(), tensor.begin() + 8, reinterpret_cast<uint8_t *>(v));
            std::cout << ", first values " << v[0] << " " << v[1];
        }
        std::cout << "\n";

        if (argc > 4) {
            std::ifstream pf(argv[4], std::ios::binary);
            std::vector<uint8_t> plain((std::istreambuf_iterator<char>(pf)), {});
            if (plain.size() < base + b ||
                !std::equal(tensor.begin(), tensor.end(), plain.begin() + base + a)) {
                std::cerr << "read_tensor: tensor bytes differ from the plaintext\n";
                return 1;
            }
            std::cout << "matches the plaintext\n";
        }
    } catch (const std::exception &e) {
        std::cerr << "read_tensor: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
