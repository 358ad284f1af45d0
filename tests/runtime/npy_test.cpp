#include "runtime/npy.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "graph/error.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

std::string fixture_path(const std::string& name) {
  return std::string(SOMA_TEST_DATA_DIR) + "/npy/" + name;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f) << "cannot open " << path;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy file with the given header dict (padded to 64 bytes, like numpy) and raw data bytes.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1,
                     size_t align = 64) {
  std::string header = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % align != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  size_t len = header.size();
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string f32_bytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

// Expects parse_npy to throw an IOError whose message names the source and mentions each part.
void expect_npy_error(const std::string& bytes, std::initializer_list<std::string> parts) {
  try {
    Array a = parse_npy(bytes, "input.npy");
    ADD_FAILURE() << "expected an IOError, got " << a.type_str();
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("input.npy"), std::string::npos) << msg;
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << p << " in: " << msg;
  }
}

bool same_bytes(const Array& a, const Array& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

// A scratch folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int n = 0;
    path_ = fs::temp_directory_path() /
            ("soma_npy_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  fs::path path_;
};

Array sample(DType t, Shape shape) {
  Array a(t, std::move(shape));
  for (int64_t i = 0; i < a.numel(); ++i) {
    double v = static_cast<double>(i) * (i % 2 ? -1.25 : 0.5) + 3;
    a.set(i, t == DType::boolean ? static_cast<double>(i % 3 == 0) : v);
  }
  return a;
}

// ---- Round trips --------------------------------------------------------------------------------

TEST(Npy, RoundTripEveryDTypeAndShape) {
  std::vector<Shape> shapes = {Shape{},
                               Shape{1},
                               Shape{5},
                               Shape{2, 3},
                               Shape{0, 3},
                               Shape{3, 0, 2},
                               Shape{2, 1, 3, 1, 2, 2},
                               Shape{12345678901, 0}};
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::boolean}) {
    for (const Shape& s : shapes) {
      Array a = sample(t, s);
      std::string bytes = serialize_npy(a);
      ASSERT_EQ((bytes.size() - a.nbytes()) % 64, 0u) << a.type_str();
      Array b = parse_npy(bytes, "round trip");
      EXPECT_TRUE(same_bytes(a, b)) << a.type_str() << " came back as " << b.type_str();
      EXPECT_EQ(serialize_npy(b), bytes);
    }
  }
}

TEST(Npy, RoundTripSpecialFloats) {
  std::vector<double> v = {NAN, INFINITY, -INFINITY, -0.0, 5e-324, 1.7976931348623157e308};
  Array a = Array::from_f64(Shape{6}, v);
  Array b = parse_npy(serialize_npy(a), "x");
  EXPECT_TRUE(same_bytes(a, b));
  EXPECT_TRUE(std::signbit(b.get(3)));
}

TEST(Npy, SerializeNormalizesBoolBytes) {
  Array a(DType::boolean, Shape{3});
  a.data<uint8_t>()[1] = 7;  // not produced by set(), but possible through raw access
  Array b = parse_npy(serialize_npy(a), "x");
  EXPECT_EQ(b.data<uint8_t>()[1], 1);
}

TEST(Npy, WriterHeaderMatchesNumpyLayout) {
  std::string bytes = serialize_npy(Array(DType::f32, Shape{2, 3}));
  ASSERT_EQ(bytes.size(), 128u + 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8),
            118);
  EXPECT_EQ(bytes.substr(10, 59), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(bytes[127], '\n');
}

// ---- Files written by numpy (tests/data/npy, see its README)
// -------------------------------------

TEST(NpyFixtures, F32Matrix) {
  Array a = load_npy(fixture_path("f32_2x3.npy"));
  EXPECT_EQ(a.type_str(), "f32[2,3]");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.data<float>()[i], static_cast<float>(i));
}

TEST(NpyFixtures, F64Scalar) {
  Array a = load_npy(fixture_path("f64_scalar.npy"));
  EXPECT_EQ(a.type_str(), "f64[]");
  EXPECT_EQ(a.get(0), -2.5);
}

TEST(NpyFixtures, I32Vector) {
  Array a = load_npy(fixture_path("i32_4.npy"));
  EXPECT_EQ(a.type_str(), "i32[4]");
  const int32_t* p = a.data<int32_t>();
  EXPECT_EQ(p[0], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(p[1], -1);
  EXPECT_EQ(p[2], 0);
  EXPECT_EQ(p[3], std::numeric_limits<int32_t>::max());
}

TEST(NpyFixtures, BoolMatrix) {
  Array a = load_npy(fixture_path("bool_2x2.npy"));
  EXPECT_EQ(a.type_str(), "bool[2,2]");
  EXPECT_EQ(a.to_doubles(), (std::vector<double>{1, 0, 0, 1}));
}

TEST(NpyFixtures, EmptyAndRank6) {
  Array e = load_npy(fixture_path("f32_0x3.npy"));
  EXPECT_EQ(e.type_str(), "f32[0,3]");
  Array r = load_npy(fixture_path("f64_rank6.npy"));
  EXPECT_EQ(r.type_str(), "f64[1,2,1,3,4,1]");
  for (int i = 0; i < 24; ++i) EXPECT_EQ(r.get(i), i / 4.0);
}

TEST(NpyFixtures, SpecialFloats) {
  Array a = load_npy(fixture_path("f32_special.npy"));
  ASSERT_EQ(a.type_str(), "f32[6]");
  const float* p = a.data<float>();
  EXPECT_TRUE(std::isnan(p[0]));
  EXPECT_EQ(p[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(p[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(p[3], 0.0f);
  EXPECT_TRUE(std::signbit(p[3]));
  EXPECT_EQ(p[4], std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(p[5], std::numeric_limits<float>::max());
}

TEST(NpyFixtures, Versions2And3) {
  Array a = load_npy(fixture_path("f64_v2.npy"));
  EXPECT_EQ(a.type_str(), "f64[3]");
  EXPECT_EQ(a.to_doubles(), (std::vector<double>{0.5, 1.5, -3.0}));
  Array b = load_npy(fixture_path("i32_v3.npy"));
  EXPECT_EQ(b.type_str(), "i32[2,1]");
  EXPECT_EQ(b.to_doubles(), (std::vector<double>{7, -8}));
}

TEST(NpyFixtures, SerializeIsByteIdenticalToNumpy) {
  // Arrays built independently of the fixtures, then compared with what np.save wrote.
  std::vector<std::pair<std::string, Array>> cases;
  cases.emplace_back("f32_2x3.npy",
                     Array::from_f32(Shape{2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5}));
  cases.emplace_back("f64_scalar.npy", Array::scalar(DType::f64, -2.5));
  cases.emplace_back("i32_4.npy",
                     Array::from_i32(Shape{4}, std::vector<int32_t>{INT32_MIN, -1, 0, INT32_MAX}));
  bool bools[] = {true, false, false, true};
  cases.emplace_back("bool_2x2.npy", Array::from_bool(Shape{2, 2}, bools));
  cases.emplace_back("f32_0x3.npy", Array(DType::f32, Shape{0, 3}));
  Array r6(DType::f64, Shape{1, 2, 1, 3, 4, 1});
  for (int i = 0; i < 24; ++i) r6.set(i, i / 4.0);
  cases.emplace_back("f64_rank6.npy", r6);
  for (const auto& [name, a] : cases) {
    std::string numpy_bytes = read_bytes(fixture_path(name));
    EXPECT_EQ(serialize_npy(a), numpy_bytes) << name;
  }
  // And every v1 fixture survives load + serialize unchanged (NaN payloads, -0 and denormals too).
  for (const char* name : {"f32_2x3.npy", "f64_scalar.npy", "i32_4.npy", "bool_2x2.npy",
                           "f32_0x3.npy", "f64_rank6.npy", "f32_special.npy"}) {
    std::string path = fixture_path(name);
    EXPECT_EQ(serialize_npy(load_npy(path)), read_bytes(path)) << name;
  }
}

void expect_load_error(const std::string& name, std::initializer_list<std::string> parts) {
  std::string path = fixture_path(name);
  try {
    load_npy(path);
    ADD_FAILURE() << "expected an IOError for " << name;
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << p << " in: " << msg;
  }
}

TEST(NpyFixtures, RejectsFortranOrder) {
  expect_load_error("f32_fortran.npy", {"Fortran-ordered", "np.ascontiguousarray"});
}

TEST(NpyFixtures, ReadsBigEndian) {
  Array a = load_npy(fixture_path("f32_big_endian.npy"));
  EXPECT_EQ(a.type_str(), "f32[3]");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.get(i), i);
}

TEST(NpyFixtures, ReadsInt64AsI32) {
  Array a = load_npy(fixture_path("i64_3.npy"));
  EXPECT_EQ(a.type_str(), "i32[3]");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.get(i), i);
}

// ---- Every numeric dtype, converted by soma's rules (runtime/npy_dtype.h)
// -------------------------

// n elements of `size` bytes each, from `words`, in the given byte order.
std::string words_bytes(const std::vector<uint64_t>& words, int size, bool big_endian) {
  std::string out;
  for (uint64_t w : words)
    for (int b = 0; b < size; ++b)
      out += static_cast<char>((w >> (8 * (big_endian ? size - 1 - b : b))) & 0xff);
  return out;
}

Array read_as(const std::string& descr, const std::vector<uint64_t>& words) {
  int size = descr.back() - '0';
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" +
                     std::to_string(words.size()) + ",)}";
  return parse_npy(make_npy(dict, words_bytes(words, size, descr[0] == '>')), "x.npy");
}

void expect_read(const std::string& descr, const std::vector<uint64_t>& words,
                 const std::string& type, const std::vector<double>& want) {
  SCOPED_TRACE(descr);
  Array a = read_as(descr, words);
  EXPECT_EQ(a.type_str(), type);
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(a.get(static_cast<int64_t>(i)))) << i;
    else
      EXPECT_EQ(a.get(static_cast<int64_t>(i)), want[i]) << i;
  }
}

uint64_t twos(int64_t v) {
  return static_cast<uint64_t>(v);
}

TEST(NpyDTypes, IntegersOfEverySizeAndOrderAreReadAsI32) {
  expect_read("|u1", {0, 255, 7}, "i32[3]", {0, 255, 7});
  expect_read("|i1", {twos(-128) & 0xff, 127}, "i32[2]", {-128, 127});
  for (const char* d : {"<i2", ">i2"})
    expect_read(d, {0x8000, 0x7fff, 5}, "i32[3]", {-32768, 32767, 5});
  for (const char* d : {"<u2", ">u2"}) expect_read(d, {0xffff, 1}, "i32[2]", {65535, 1});
  expect_read(">i4", {0x80000000, 0xffffffff}, "i32[2]", {-2147483648.0, -1});
  for (const char* d : {"<i8", ">i8", "=i8"})
    expect_read(d, {twos(-2147483648LL), 2147483647, twos(-5)}, "i32[3]",
                {-2147483648.0, 2147483647, -5});
  for (const char* d : {"<u4", ">u4", "<u8", ">u8"})
    expect_read(d, {2147483647, 0}, "i32[2]", {2147483647, 0});
  expect_read(">b1", {1, 0}, "bool[2]", {1, 0});
}

TEST(NpyDTypes, AnIntegerThatDoesNotFitInI32IsAnErrorNotAWrap) {
  auto dict = [](const std::string& descr, int n) {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + std::to_string(n) +
           ",)}";
  };
  expect_npy_error(make_npy(dict("<i8", 3), words_bytes({1, 2, 2147483648ULL}, 8, false)),
                   {"element 2", "int64", "2147483648", "does not fit in i32"});
  expect_npy_error(make_npy(dict(">i8", 1), words_bytes({twos(-2147483649LL)}, 8, true)),
                   {"element 0", "-2147483649"});
  expect_npy_error(make_npy(dict("<u4", 2), words_bytes({0, 4294967295ULL}, 4, false)),
                   {"element 1", "uint32", "4294967295"});
  expect_npy_error(make_npy(dict("<u8", 1), words_bytes({1ULL << 63}, 8, false)),
                   {"uint64", "9223372036854775808"});
}

TEST(NpyDTypes, FloatsInEitherOrderAndFloat16Exactly) {
  // float16: 1, -2, the largest finite, +inf, a NaN, the smallest subnormal (2^-24), -0.
  std::vector<uint64_t> halves = {0x3c00, 0xc000, 0x7bff, 0x7c00, 0x7e00, 0x0001, 0x8000};
  std::vector<double> want = {1, -2, 65504, INFINITY, NAN, std::ldexp(1.0, -24), 0};
  for (const char* d : {"<f2", ">f2"}) expect_read(d, halves, "f32[7]", want);
  EXPECT_TRUE(std::signbit(read_as("<f2", {0x8000}).get(0)));
  expect_read("<f2", {0x3555}, "f32[1]", {0.333251953125});  // 1/3 rounded to float16
  uint32_t f;
  float one_and_half = 1.5f;
  std::memcpy(&f, &one_and_half, 4);
  expect_read(">f4", {f}, "f32[1]", {1.5});
  double d = -0.1;
  uint64_t w;
  std::memcpy(&w, &d, 8);
  expect_read(">f8", {w}, "f64[1]", {-0.1});
}

// ---- The header parser accepts what Python would ------------------------------------------------

TEST(NpyHeader, LiberalSyntax) {
  std::string data = f32_bytes({1, 2, 3});
  const char* dicts[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
      "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}",
      "{'descr':'<f4','fortran_order':False,'shape':(3,)}",
      "  {\n 'descr' :\t'=f4' ,\n 'fortran_order' : False ,\n 'shape' : ( 3 , ) ,\n }  ",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (+3,), }",
  };
  for (const char* d : dicts) {
    Array a = parse_npy(make_npy(d, data), "x");
    EXPECT_EQ(a.type_str(), "f32[3]") << d;
    EXPECT_EQ(a.to_doubles(), (std::vector<double>{1, 2, 3})) << d;
  }
  // Multi-dimensional shapes with and without a trailing comma; and a scalar.
  EXPECT_EQ(
      parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,1,)}", data), "x")
          .type_str(),
      "f32[3,1]");
  EXPECT_EQ(
      parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", f32_bytes({9})),
                "x")
          .get(0),
      9.0);
}

TEST(NpyHeader, AcceptsOtherAlignmentsAndByteOrderMarks) {
  std::string data = f32_bytes({1, 2, 3});
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  EXPECT_EQ(parse_npy(make_npy(dict, data, 1, 16), "x").numel(), 3);
  EXPECT_EQ(parse_npy(make_npy(dict, data, 1, 1), "x").numel(), 3);
  EXPECT_EQ(parse_npy(make_npy(dict, data, 2), "x").numel(), 3);
  EXPECT_EQ(parse_npy(make_npy(dict, data, 3), "x").numel(), 3);
  std::string d8(16, '\0');
  EXPECT_EQ(parse_npy(make_npy("{'descr': '=f8', 'fortran_order': False, 'shape': (2,)}", d8), "x")
                .dtype(),
            DType::f64);
  EXPECT_EQ(parse_npy(make_npy("{'descr': '=i4', 'fortran_order': False, 'shape': (2,)}",
                               std::string(8, '\0')),
                      "x")
                .dtype(),
            DType::i32);
  for (const char* b : {"|b1", "<b1", "=b1"}) {
    std::string dict_b =
        std::string("{'descr': '") + b + "', 'fortran_order': False, 'shape': (2,)}";
    EXPECT_EQ(parse_npy(make_npy(dict_b, std::string("\x01\x00", 2)), "x").type_str(), "bool[2]")
        << b;
  }
}

// ---- Errors -------------------------------------------------------------------------------------

const std::string kF32Dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

TEST(NpyErrors, WrongMagic) {
  expect_npy_error("", {"not a .npy file", "magic"});
  expect_npy_error("\x93NUM", {"not a .npy file"});
  expect_npy_error("hello world, this is not numpy data", {"not a .npy file", "magic"});
  std::string good = make_npy(kF32Dict, std::string(24, '\0'));
  good[1] = 'n';
  expect_npy_error(good, {"not a .npy file"});
  expect_npy_error(std::string("PK\x03\x04 rest of a zip", 19), {"zip", ".npz"});
}

TEST(NpyErrors, UnsupportedVersion) {
  std::string good = make_npy(kF32Dict, std::string(24, '\0'));
  for (auto [major, minor] : {std::pair{4, 0}, std::pair{0, 0}, std::pair{1, 1}}) {
    std::string b = good;
    b[6] = static_cast<char>(major);
    b[7] = static_cast<char>(minor);
    expect_npy_error(b, {"unsupported .npy format version " + std::to_string(major) + "." +
                         std::to_string(minor)});
  }
}

TEST(NpyErrors, TruncatedHeader) {
  std::string good = make_npy(kF32Dict, std::string(24, '\0'));
  expect_npy_error(good.substr(0, 6), {"truncated .npy header"});
  expect_npy_error(good.substr(0, 9), {"truncated .npy header"});
  expect_npy_error(good.substr(0, 50), {"truncated .npy header", "118"});
  std::string v2 = make_npy(kF32Dict, "", 2);
  expect_npy_error(v2.substr(0, 11), {"truncated .npy header"});
  // A header length that points past the end of the file.
  std::string b = good;
  b[8] = '\xff';
  b[9] = '\x7f';
  expect_npy_error(b, {"truncated .npy header", "32767"});
}

TEST(NpyErrors, MalformedHeader) {
  std::string d = std::string(24, '\0');
  auto bad = [&](const std::string& dict, std::initializer_list<std::string> parts) {
    SCOPED_TRACE(dict);
    std::vector<std::string> all = {"malformed .npy header"};
    all.insert(all.end(), parts.begin(), parts.end());
    try {
      parse_npy(make_npy(dict, d), "input.npy");
      ADD_FAILURE() << "expected an IOError";
    } catch (const IOError& e) {
      std::string msg = e.what();
      for (const std::string& p : all)
        EXPECT_NE(msg.find(p), std::string::npos) << p << " in: " << msg;
    }
  };
  bad("", {"dict"});
  bad("descr: <f4", {"dict"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", {"expected ',' or '}'"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} extra", {"after the closing"});
  bad("{'descr': '<f4', 'fortran_order': False}", {"missing key 'shape'"});
  bad("{'descr': '<f4', 'shape': (2, 3)}", {"missing key 'fortran_order'"});
  bad("{'fortran_order': False, 'shape': (2, 3)}", {"missing key 'descr'"});
  bad("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
      {"duplicate key 'descr'"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
      {"unexpected key 'extra'"});
  bad("{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", {"quoted key"});
  bad("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}", {"':'"});
  bad("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", {});
  bad("{'descr': <f4, 'fortran_order': False, 'shape': (2, 3)}", {"'descr'"});
  bad("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", {"True or False"});
  bad("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}", {"True or False"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", {"tuple"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", {"(6,)"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", {"expected ',' or ')'"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}", {"integer"});
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}", {"integer"});
  bad("{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (2, 3)}", {"escape"});
  bad(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\0", 58), {});
}

TEST(NpyErrors, UnsupportedDTypes) {
  auto dict = [](const std::string& descr) {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (0,)}";
  };
  expect_npy_error(make_npy(dict("<c16"), ""), {"'<c16'", "complex128", "supported dtypes"});
  expect_npy_error(make_npy(dict("<f16"), ""), {"'<f16'", "float128"});
  expect_npy_error(make_npy(dict("|i2"), ""), {"unsupported dtype '|i2'"});
  expect_npy_error(make_npy(dict("<U5"), ""), {"'<U5'", "unicode"});
  expect_npy_error(make_npy(dict("|O"), ""), {"'|O'", "object"});
  expect_npy_error(make_npy(dict("|f4"), ""), {"unsupported dtype '|f4'"});
  expect_npy_error(make_npy(dict("f4"), ""), {"unsupported dtype 'f4'"});
  expect_npy_error(make_npy(dict(""), ""), {"unsupported dtype ''"});
  expect_npy_error(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,)}", ""),
                   {"structured"});
}

TEST(NpyErrors, FortranOrder) {
  expect_npy_error(
      make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", std::string(24, '\0')),
      {"Fortran-ordered arrays are not supported", "np.ascontiguousarray"});
}

TEST(NpyErrors, BadShapes) {
  auto dict = [](const std::string& shape) {
    return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "}";
  };
  expect_npy_error(make_npy(dict("(2, -3)"), ""), {"negative dimension", "(2, -3)"});
  expect_npy_error(make_npy(dict("(-1,)"), ""), {"negative dimension"});
  expect_npy_error(make_npy(dict("(4611686018427387904, 4611686018427387904)"), ""), {"overflows"});
  // f32 elements: 2^62 * 4 bytes does not fit in int64.
  expect_npy_error(make_npy(dict("(4611686018427387904,)"), ""), {"overflows"});
  // A zero dimension does not excuse the others (their strides would overflow).
  expect_npy_error(make_npy(dict("(0, 4611686018427387904, 4)"), ""), {"overflows"});
  expect_npy_error(make_npy(dict("(99999999999999999999,)"), ""), {"64-bit integer"});
  expect_npy_error(make_npy(dict("(1, 1, 1, 1, 1, 1, 1)"), f32_bytes({0})),
                   {"rank 7", "at most rank 6"});
  // A huge but representable shape with no data is truncated data, not an allocation.
  expect_npy_error(make_npy(dict("(1000000000000,)"), ""),
                   {"truncated data", "4000000000000 bytes", "only 0"});
}

TEST(NpyErrors, TruncatedAndTrailingData) {
  std::string full = make_npy(kF32Dict, std::string(24, '\0'));
  expect_npy_error(full.substr(0, full.size() - 4),
                   {"truncated data", "f32", "(2, 3)", "needs 24 bytes", "only 20"});
  expect_npy_error(full.substr(0, 128), {"truncated data", "needs 24 bytes", "only 0"});
  expect_npy_error(full + "xyz", {"3 bytes of unexpected trailing data", "24", "27"});
  std::string empty = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5)}", "");
  expect_npy_error(empty + "\n", {"1 byte of unexpected trailing data"});
}

TEST(NpyErrors, InvalidBoolBytes) {
  std::string dict = "{'descr': '|b1', 'fortran_order': False, 'shape': (4,)}";
  expect_npy_error(make_npy(dict, std::string("\x01\x00\x02\x01", 4)),
                   {"invalid bool value 2", "element 2", "0 or 1"});
  expect_npy_error(make_npy(dict, std::string("\x00\x00\x00\xff", 4)), {"255", "element 3"});
}

TEST(NpyErrors, LoadMissingFileOrDirectory) {
  TempDir dir;
  std::string missing = dir.file("nope.npy");
  try {
    load_npy(missing);
    ADD_FAILURE();
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  }
  EXPECT_THROW(load_npy(dir.file("")), IOError);
}

// ---- Saving -------------------------------------------------------------------------------------

TEST(NpySave, SaveLoadAndOverwrite) {
  TempDir dir;
  std::string path = dir.file("a.npy");
  Array a = sample(DType::f32, Shape{4, 5});
  save_npy(path, a);
  EXPECT_EQ(read_bytes(path), serialize_npy(a));
  EXPECT_TRUE(same_bytes(load_npy(path), a));
  Array b = sample(DType::boolean, Shape{7});
  save_npy(path, b);
  EXPECT_TRUE(same_bytes(load_npy(path), b));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npy"});  // no temporary files left
  // A relative path (no folder part) also works.
  fs::path old = fs::current_path();
  fs::current_path(dir.file(""));
  save_npy("rel.npy", a);
  fs::current_path(old);
  EXPECT_TRUE(same_bytes(load_npy(dir.file("rel.npy")), a));
}

// ---- Mapped files (numpy's mmap_mode) ---------------------------------------------------------

TEST(NpyMap, MapsWhatItWouldLoadAndNeverWritesTheFile) {
  TempDir dir;
  std::string path = dir.file("big.npy");
  Array a(DType::f32, Shape{5000, 3});
  for (int64_t i = 0; i < a.numel(); ++i) a.set(i, 0.25 * static_cast<double>(i));
  save_npy(path, a);
  Array m = map_npy(path);
  EXPECT_EQ(m.type_str(), "f32[5000,3]");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.raw()) % 64, 0u);
  EXPECT_EQ(std::memcmp(m.raw(), a.raw(), a.nbytes()), 0);
  m.set(7, -1);  // copy-on-write: this Array changes, the file does not
  EXPECT_EQ(m.get(7), -1);
  EXPECT_EQ(load_npy(path).get(7), 1.75);
  Array copy = m;  // a copy keeps the mapping alive
  m = Array();
  EXPECT_EQ(copy.get(14999), 0.25 * 14999);
  // Files numpy wrote map as they load.
  for (const char* f : {"f32_2x3.npy", "i32_4.npy", "bool_2x2.npy", "f64_rank6.npy"}) {
    Array l = load_npy(fixture_path(f)), mm = map_npy(fixture_path(f));
    EXPECT_EQ(mm.type_str(), l.type_str()) << f;
    EXPECT_EQ(mm.to_doubles(), l.to_doubles()) << f;
  }
}

TEST(NpyMap, TypesThatNeedConvertingAndBadFilesAreClearErrors) {
  auto error_of = [](const std::string& path) -> std::string {
    try {
      map_npy(path);
    } catch (const IOError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of(fixture_path("i64_3.npy")).find("load_npy"), std::string::npos);
  EXPECT_NE(error_of(fixture_path("f32_big_endian.npy")).find("needs converting"),
            std::string::npos);
  EXPECT_NE(error_of(fixture_path("f32_fortran.npy")).find("Fortran"), std::string::npos);
  EXPECT_NE(error_of("/nonexistent/x.npy").find("cannot open"), std::string::npos);
  TempDir dir;
  std::string bad = dir.file("bool.npy");
  std::ofstream(bad, std::ios::binary) << make_npy(
      "{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", std::string("\x01\x07\x00", 3));
  EXPECT_NE(error_of(bad).find("invalid bool value 7"), std::string::npos);
}

TEST(NpySave, MissingFolderFails) {
  TempDir dir;
  std::string path = dir.file("no/such/folder/a.npy");
  try {
    save_npy(path, Array());
    ADD_FAILURE();
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(NpySave, FailedRenameLeavesTargetAndNoTemp) {
  TempDir dir;
  // The target is a non-empty folder: rename() onto it fails.
  std::string path = dir.file("target.npy");
  fs::create_directories(path);
  write_bytes(path + "/keep", "keep");
  try {
    save_npy(path, Array());
    ADD_FAILURE();
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("rename"), std::string::npos) << msg;
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"target.npy"});
  EXPECT_EQ(read_bytes(path + "/keep"), "keep");
}

TEST(NpySave, FailedWriteLeavesExistingFileIntact) {
  TempDir dir;
  std::string path = dir.file("model.npy");
  Array small = sample(DType::i32, Shape{3});
  save_npy(path, small);
  std::string before = read_bytes(path);

  // Limit the size of files this process may write, so that writing the temporary file fails.
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 1000;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string msg;
  try {
    save_npy(path, Array(DType::f64, Shape{1000}));
  } catch (const IOError& e) {
    msg = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(msg.empty()) << "save_npy should have failed";
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.npy"});
}

// ---- Fuzz: parse_npy returns or throws soma::Error, never crashes
// ----------------------------------

// Parses and reports whether it succeeded; any exception other than soma::Error fails the test.
bool parses(const std::string& bytes) {
  try {
    Array a = parse_npy(bytes, "fuzz");
    // A successful parse must describe exactly the bytes it was given.
    EXPECT_LE(a.shape().rank(), kMaxRank);
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "parse_npy threw a non-soma exception: " << e.what();
    return false;
  }
}

std::vector<std::string> fuzz_seeds() {
  std::vector<std::string> seeds;
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::boolean})
    for (const Shape& s : {Shape{}, Shape{3}, Shape{2, 3}, Shape{0, 2}, Shape{1, 2, 1, 2, 1, 2}})
      seeds.push_back(serialize_npy(sample(t, s)));
  for (const char* name : {"f64_v2.npy", "i32_v3.npy", "f32_fortran.npy", "f32_big_endian.npy"})
    seeds.push_back(read_bytes(fixture_path(name)));
  return seeds;
}

TEST(NpyFuzz, EveryStrictPrefixAndExtensionIsRejected) {
  for (const std::string& seed : fuzz_seeds()) {
    if (!parses(seed)) continue;  // the rejected fixtures
    for (size_t n = 0; n < seed.size(); ++n) EXPECT_FALSE(parses(seed.substr(0, n))) << n;
    EXPECT_FALSE(parses(seed + '\0'));
  }
}

TEST(NpyFuzz, RandomMutationsNeverCrash) {
  std::vector<std::string> seeds = fuzz_seeds();
  std::mt19937_64 rng(12345);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::string interesting = "0123456789(),:'\"{} -+LTrueFalse<>=|fib\n\x00\xff\x93";
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string b = seeds[pick(seeds.size())];
    int mutations = 1 + static_cast<int>(pick(4));
    for (int m = 0; m < mutations && !b.empty(); ++m) {
      switch (pick(8)) {
        case 0:  // flip a bit
          b[pick(b.size())] ^= static_cast<char>(1 << pick(8));
          break;
        case 1:  // a random byte
          b[pick(b.size())] = static_cast<char>(rng());
          break;
        case 2:  // a byte that means something to the header parser, mostly in the header
          b[pick(std::min<size_t>(b.size(), 128))] = interesting[pick(interesting.size())];
          break;
        case 3:  // truncate
          b.resize(pick(b.size() + 1));
          break;
        case 4: {  // insert random bytes
          size_t at = pick(b.size() + 1);
          b.insert(at, std::string(1 + pick(8), static_cast<char>(rng())));
          break;
        }
        case 5: {  // erase a range
          size_t at = pick(b.size());
          b.erase(at, 1 + pick(16));
          break;
        }
        case 6:  // change the header length field
          if (b.size() > 9) b[8 + pick(2)] = static_cast<char>(rng());
          break;
        case 7: {  // replace a digit run in the shape with a big or negative number
          size_t open = b.find('(');
          if (open != std::string::npos) {
            static const char* nums[] = {
                "-1",         "0",     "9223372036854775807",  "9223372036854775808",
                "4294967296", "65536", "18446744073709551617", "7, 7"};
            b.insert(open + 1, std::string(nums[pick(8)]) + ", ");
          }
          break;
        }
      }
    }
    (parses(b) ? accepted : rejected)++;
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);  // some mutations (e.g. of data bytes) leave a valid file
}

}  // namespace
}  // namespace soma
