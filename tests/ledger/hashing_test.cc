#include "ledger/hashing.h"

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "ledger/json.h"

namespace rapport::ledger {
namespace {

std::string HexOf(const Digest& d) { return json::Hex(AsBytes(d)); }

// ---------------------------------------------------------------------------------------------
// Murmur2 and PartitionFor (CONTRACT §3).

TEST(Murmur2Test, MatchesKafkaJavaClientVectors) {
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed int32 results).
  struct Case {
    std::string_view key;
    int32_t expected;
  };
  const Case kCases[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(static_cast<int32_t>(Murmur2(c.key)), c.expected) << c.key;
  }
}

TEST(Murmur2Test, MatchesLibrdkafkaUnitTestVectors) {
  // librdkafka src/rdmurmur2.c unittest_murmur2 (java_murmur2_results), which covers every tail
  // length and unaligned starts.
  struct Case {
    std::string_view key;
    uint32_t expected;
  };
  const Case kCases[] = {
      {"kafka", 0xd067cf64},
      {"giberish123456789", 0x8f552b0c},
      {"1234", 0x9fc97b14},
      {"234", 0xe7c009ca},
      {"34", 0x873930da},
      {"4", 0x5a4b5ca1},
      {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
      {"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377},
      {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e},
      {"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},
      {"", 0x106e08d9},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(Murmur2(c.key), c.expected) << "\"" << c.key << "\"";
  }
}

TEST(Murmur2Test, HashesTheBytesFromAnyAlignment) {
  const std::string buffer = "xPreAmbleWillBeRemoved,ThePrePartThatIs";
  EXPECT_EQ(Murmur2(std::string_view(buffer).substr(1)), 0x78424f1cu);
}

int32_t LibrdkafkaPartition(std::string_view key, int32_t partitions) {
  return rd_kafka_msg_partitioner_murmur2_random(nullptr, key.data(), key.size(), partitions,
                                                 nullptr, nullptr);
}

TEST(PartitionForTest, MatchesLibrdkafkaMurmur2RandomPartitioner) {
  std::mt19937 rng(0x9747b28c);
  std::uniform_int_distribution<int> length(0, 80);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> printable(0x21, 0x7e);
  int compared = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string key(static_cast<size_t>(length(rng)), '\0');
    bool ascii = i % 2 == 0;  // customer ids are printable ASCII; also try arbitrary bytes
    for (char& c : key) c = static_cast<char>(ascii ? printable(rng) : byte(rng));
    for (uint32_t n = 1; n <= 64; ++n) {
      ASSERT_EQ(PartitionFor(key, n),
                static_cast<uint32_t>(LibrdkafkaPartition(key, static_cast<int32_t>(n))))
          << "key #" << i << " (" << json::Hex(key) << "), " << n << " partitions";
      ++compared;
    }
  }
  EXPECT_EQ(compared, 5000 * 64);
}

TEST(PartitionForTest, MatchesLibrdkafkaForTypicalCustomerIds) {
  const std::string_view kIds[] = {
      "C-1001", "C-1002", "anon-2ce92690f7f490e3",
      "",       "a",      "customer-with-a-rather-long-identifier-0000000001"};
  for (std::string_view id : kIds) {
    for (uint32_t n : {1u, 2u, 3u, 4u, 7u, 12u, 16u, 64u, 100u, 1000u}) {
      EXPECT_EQ(PartitionFor(id, n),
                static_cast<uint32_t>(LibrdkafkaPartition(id, static_cast<int32_t>(n))))
          << "\"" << id << "\", " << n << " partitions";
    }
  }
}

TEST(PartitionForTest, ClearsTheSignBitBeforeTheModulo) {
  // murmur2("21") = -973932308 as int32 = 0xc5f2f8ec; & 0x7fffffff = 1173551340.
  ASSERT_EQ(Murmur2("21"), 0xc5f2f8ecu);
  EXPECT_EQ(PartitionFor("21", 1000), 1173551340u % 1000);
  EXPECT_EQ(PartitionFor("21", 7), 1173551340u % 7);
  EXPECT_EQ(PartitionFor("anything", 1), 0u);
}

// ---------------------------------------------------------------------------------------------
// SHA-256 and the hash chain (CONTRACT §7). Expected values are from `sha256sum`.

TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(HexOf(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexOf(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexOf(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(HexOf(Sha256("email:li.wei@example.com")),
            "2ce92690f7f490e378b19350924057fc395c076d13d55059867005a9e7ceecda");
}

TEST(Sha256Test, HashesEmbeddedNulBytes) {
  std::string zeros(32, '\0');
  EXPECT_NE(Sha256(zeros), Sha256(""));
  EXPECT_EQ(Sha256(zeros), Sha256(std::string_view(zeros.data(), zeros.size())));
}

TEST(ChainHashTest, IsSha256OfTheConcatenatedRawDigests) {
  // First link: 32 zero bytes ‖ SHA-256("abc"), i.e.
  // ( head -c 32 /dev/zero; printf abc | sha256sum | cut -c1-64 | xxd -r -p ) | sha256sum
  Digest first = ChainHash(kZeroDigest, Sha256("abc"));
  EXPECT_EQ(HexOf(first), "589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d");
  // Second link: that ‖ SHA-256("").
  Digest second = ChainHash(first, Sha256(""));
  EXPECT_EQ(HexOf(second), "ef6a5fdbba9e14e07fa74d23b7ae639d146ce41635cf3fe44315988c4cbd0caf");
  // The same as hashing the 64 bytes directly.
  std::string concatenated(AsBytes(first));
  concatenated.append(AsBytes(Sha256("")));
  EXPECT_EQ(second, Sha256(concatenated));
}

TEST(ChainHashTest, DependsOnOrder) {
  Digest a = Sha256("a");
  Digest b = Sha256("b");
  EXPECT_NE(ChainHash(a, b), ChainHash(b, a));
  EXPECT_EQ(ChainHash(a, b), ChainHash(a, b));
}

TEST(DigestTest, ZeroDigestIs32ZeroBytes) {
  EXPECT_EQ(AsBytes(kZeroDigest), std::string(32, '\0'));
  EXPECT_EQ(HexOf(kZeroDigest), std::string(64, '0'));
}

}  // namespace
}  // namespace rapport::ledger
