// Images as arrays: color modes, resizing as tf.image.resize does, save_image as Keras's
// save_img, and folders of images as image_dataset_from_directory gives them.
#include "frontend/data/images.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "graph/error.h"
#include "nn/nn_test_util.h"

namespace soma::data {
namespace {

namespace fs = std::filesystem;
using nn::testing::expect_values;

Image rgb_pixel(uint16_t r, uint16_t g, uint16_t b, int depth = 8) {
  return Image{1, 1, 3, depth, {r, g, b}};
}

TEST(Images, ColorModesAsKerasLoadsThem) {
  // PIL's luma, rounded: 0.299 R + 0.587 G + 0.114 B.
  expect_values(image_to_array(rgb_pixel(200, 100, 50), ColorMode::grayscale), {124}, 0);
  expect_values(image_to_array(rgb_pixel(255, 255, 255), ColorMode::grayscale), {255}, 0);
  expect_values(image_to_array(rgb_pixel(10, 20, 30), ColorMode::rgba), {10, 20, 30, 255}, 0);
  Image gray_alpha{1, 2, 2, 8, {7, 100, 9, 0}};
  expect_values(image_to_array(gray_alpha, ColorMode::rgb), {7, 7, 7, 9, 9, 9}, 0);
  expect_values(image_to_array(gray_alpha, ColorMode::rgba), {7, 7, 7, 100, 9, 9, 9, 0}, 0);
  expect_values(image_to_array(gray_alpha, ColorMode::grayscale), {7, 9}, 0);
  // 16-bit samples scale to [0, 255] without rounding.
  expect_values(image_to_array(rgb_pixel(65535, 257, 0, 16), ColorMode::rgb), {255, 1, 0}, 1e-4);
  Array a = image_to_array(Image{3, 2, 1, 8, {1, 2, 3, 4, 5, 6}}, ColorMode::grayscale);
  EXPECT_EQ(a.type_str(), "f32[3,2,1]");
  EXPECT_THROW(parse_color_mode("RGB"), ValueError);
  EXPECT_THROW(parse_interpolation("bicubic"), ValueError);
  EXPECT_THROW(parse_label_mode("sparse"), ValueError);
}

TEST(Images, ResizeAsTensorFlowDoes) {
  Array img = Array::from_f32(Shape{2, 2, 1}, std::vector<float>{0, 1, 2, 3});
  // tf.image.resize(img, [4, 4]) (bilinear, half-pixel centers).
  expect_values(resize_image(img, 4, 4, Interpolation::bilinear),
                {0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3});
  // Down by two: the mean of each 2x2 block.
  Array big(DType::f32, Shape{4, 4, 2});
  for (int64_t i = 0; i < big.numel(); ++i) big.set(i, static_cast<double>(i));
  Array small = resize_image(big, 2, 2, Interpolation::bilinear);
  EXPECT_EQ(small.type_str(), "f32[2,2,2]");
  expect_values(small, {5, 6, 9, 10, 21, 22, 25, 26});
  // Nearest: source (o + 0.5) * in / out, floored.
  Array row = Array::from_f32(Shape{1, 2, 1}, std::vector<float>{5, 9});
  expect_values(resize_image(row, 1, 3, Interpolation::nearest), {5, 9, 9});
  expect_values(resize_image(row, 1, 4, Interpolation::nearest), {5, 5, 9, 9});
  EXPECT_TRUE(resize_image(img, 2, 2, Interpolation::bilinear).shares_storage(img));
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("soma_images_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A 4x6 RGB image whose every sample is `v` (so the test can tell images apart).
void write_solid(const fs::path& p, uint16_t v) {
  fs::create_directories(p.parent_path());
  write_png(p.string(), Image{4, 6, 3, 8, std::vector<uint16_t>(72, v)});
}

TEST(Images, SaveImageScalesAsKerasSaveImg) {
  TempDir d;
  const std::string p = (d.path / "x.png").string();
  save_image(p, Array::from_f32(Shape{1, 3}, std::vector<float>{-1, 0, 1}));
  expect_values(load_image(p, {.color_mode = ColorMode::grayscale}), {0, 127, 255}, 0);
  save_image(p, Array::from_f32(Shape{2, 1, 3}, std::vector<float>{0, 10.7, 255, 1, 2, 3}), false);
  expect_values(load_image(p), {0, 10, 255, 1, 2, 3}, 0);  // truncated, as astype("uint8")
  // channels_first in and out.
  Array chw = Array::from_f32(Shape{3, 1, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  save_image(p, chw, false, true);
  expect_values(load_image(p), {1, 3, 5, 2, 4, 6}, 0);
  expect_values(load_image(p, {.channels_first = true}), {1, 2, 3, 4, 5, 6}, 0);
  try {
    save_image(p, Array::from_f32(Shape{1, 2}, std::vector<float>{3, 300}), false);
    ADD_FAILURE();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("element 1 is 300, outside [0, 255]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(save_image(p, Array::from_f32(Shape{1, 1}, std::vector<float>{NAN})), ValueError);
  const std::string nested = (d.path / "new" / "folder" / "y.png").string();
  save_image(nested, Array::from_f32(Shape{1, 1}, std::vector<float>{3}), false);  // folders made
  expect_values(load_image(nested, {.color_mode = ColorMode::grayscale}), {3}, 0);
  EXPECT_THROW(save_image(p, Array(DType::f32, Shape{2, 2, 5})), ShapeError);
  EXPECT_THROW(save_image(p, Array(DType::f32, Shape{2})), ShapeError);
}

TEST(Images, FolderOfClassesAsImageDatasetFromDirectory) {
  TempDir d;
  // Three classes; "dog" has a nested folder; a text file is ignored (as Keras does).
  write_solid(d.path / "dog" / "b.png", 20);
  write_solid(d.path / "dog" / "a.png", 10);
  write_solid(d.path / "dog" / "more" / "c.png", 30);
  write_solid(d.path / "cat" / "x.png", 40);
  write_solid(d.path / "bird" / "y.png", 50);
  write_solid(d.path / "bird" / "z.png", 60);
  std::ofstream(d.path / "cat" / "notes.txt") << "not an image";

  ImageFolderOptions o;
  o.shuffle = false;
  o.height = 2;
  o.width = 3;
  std::vector<ImageFolder> r = image_dataset_from_directory(d.path.string(), o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].class_names, (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(r[0].x.type_str(), "f32[6,2,3,3]");
  ASSERT_TRUE(r[0].y);
  expect_values(*r[0].y, {0, 0, 1, 2, 2, 2}, 0);
  // Files in os.walk order: a folder's files by name, then its subfolders.
  std::vector<std::string> names;
  for (const auto& f : r[0].file_paths) names.push_back(fs::path(f).filename().string());
  EXPECT_EQ(names,
            (std::vector<std::string>{"y.png", "z.png", "x.png", "a.png", "b.png", "c.png"}));
  const std::vector<double> firsts = {50, 60, 40, 10, 20, 30};
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(r[0].x.get(i * 18), firsts[static_cast<size_t>(i)]);

  // Shuffled with a seed: the same order every time, rows and labels still together.
  o.shuffle = true;
  o.seed = 7;
  std::vector<ImageFolder> s1 = image_dataset_from_directory(d.path.string(), o);
  std::vector<ImageFolder> s2 = image_dataset_from_directory(d.path.string(), o);
  EXPECT_EQ(s1[0].file_paths, s2[0].file_paths);
  EXPECT_NE(s1[0].file_paths, r[0].file_paths);
  for (int64_t i = 0; i < 6; ++i) {
    const std::string& f = s1[0].file_paths[static_cast<size_t>(i)];
    const auto at = std::find(r[0].file_paths.begin(), r[0].file_paths.end(), f);
    const int64_t j = at - r[0].file_paths.begin();
    EXPECT_EQ(s1[0].y->get(i), r[0].y->get(j)) << f;
    EXPECT_EQ(s1[0].x.get(i * 18), r[0].x.get(j * 18)) << f;
  }

  // A validation split: the shuffled list's last floor(0.34 * 6) = 2 files; "both" gives the two.
  o.validation_split = 0.34;
  o.subset = "both";
  std::vector<ImageFolder> both = image_dataset_from_directory(d.path.string(), o);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].x.shape()[0], 4);
  EXPECT_EQ(both[1].x.shape()[0], 2);
  std::set<std::string> all(both[0].file_paths.begin(), both[0].file_paths.end());
  all.insert(both[1].file_paths.begin(), both[1].file_paths.end());
  EXPECT_EQ(all.size(), 6u);
  o.subset = "validation";
  EXPECT_EQ(image_dataset_from_directory(d.path.string(), o)[0].file_paths, both[1].file_paths);
  o.subset = "";
  EXPECT_THROW(image_dataset_from_directory(d.path.string(), o), ValueError);
  o.validation_split = 0;

  // Label modes, grayscale, channels_first, and classes chosen (and ordered) by name.
  o.shuffle = false;
  o.label_mode = LabelMode::categorical;
  o.color_mode = ColorMode::grayscale;
  o.channels_first = true;
  o.class_names = {"dog", "cat", "bird"};
  std::vector<ImageFolder> c = image_dataset_from_directory(d.path.string(), o);
  EXPECT_EQ(c[0].x.type_str(), "f32[6,1,2,3]");
  EXPECT_EQ(c[0].y->type_str(), "f32[6,3]");
  expect_values(*c[0].y, {1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1}, 0);
  EXPECT_EQ(c[0].x.get(0), 10);  // gray of (10, 10, 10)
  o.label_mode = LabelMode::binary;
  EXPECT_THROW(image_dataset_from_directory(d.path.string(), o), ValueError);
  o.class_names = {"dog", "cat"};
  EXPECT_THROW(image_dataset_from_directory(d.path.string(), o), ValueError);
  o.class_names.clear();
  o.label_mode = LabelMode::none;
  std::vector<ImageFolder> unlabeled = image_dataset_from_directory(d.path.string(), o);
  EXPECT_FALSE(unlabeled[0].y);
  EXPECT_EQ(unlabeled[0].x.shape()[0], 6);
}

void expect_folder_error(const fs::path& dir, const std::string& part) {
  try {
    image_dataset_from_directory(dir.string(), {.height = 2, .width = 2});
    ADD_FAILURE() << "no error; expected: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << part << " in: " << e.what();
  }
}

TEST(Images, FolderErrorsNameTheFolderOrFile) {
  TempDir d;
  expect_folder_error(d.path / "missing", "does not exist");
  expect_folder_error(d.path, "has no subfolders");
  fs::create_directories(d.path / "a");
  expect_folder_error(d.path, "holds no PNG images");
  write_solid(d.path / "a" / "1.png", 1);
  std::ofstream(d.path / "a" / "2.jpg") << "\xff\xd8\xff";
  expect_folder_error(d.path, "2.jpg' is not PNG; soma reads PNG images only");
  fs::remove(d.path / "a" / "2.jpg");
  std::ofstream(d.path / "a" / "3.png") << "not really a png";
  expect_folder_error(d.path, "3.png': not a PNG file");
}

}  // namespace
}  // namespace soma::data
