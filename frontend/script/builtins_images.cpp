// Image built-ins with the names and defaults of Keras's image utilities: load_image (load_img +
// img_to_array), save_image (save_img) and image_dataset_from_directory, over
// frontend/data/images.h.
#include "frontend/data/images.h"
#include "frontend/script/builtins.h"
#include "frontend/script/nn_objects.h"
#include "frontend/script/session.h"

namespace soma::script {

namespace {

// A folder of images: its arrays, class names and files.
class ImageDatasetObject : public TableObject {
 public:
  explicit ImageDatasetObject(data::ImageFolder d) : d_(std::move(d)) {
    value("x", [this] { return Value::array(d_.x); });
    value("y", [this] { return d_.y ? Value::array(*d_.y) : Value::none(); });
    value("class_names", [this] { return str_list(d_.class_names); });
    value("file_paths", [this] { return str_list(d_.file_paths); });
  }
  std::string type_name() const override { return "ImageDataset"; }
  std::string repr() const override {
    return "<ImageDataset: " + std::to_string(d_.file_paths.size()) + " images, x " +
           d_.x.type_str() + (d_.y ? ", y " + d_.y->type_str() : std::string(", no labels")) +
           ", " + std::to_string(d_.class_names.size()) + " classes>";
  }

 private:
  data::ImageFolder d_;
};

bool channels_first(Call& c) {
  const std::string f = c.str("data_format");
  if (f != "channels_last" && f != "channels_first")
    c.value_error("data_format", "must be 'channels_last' or 'channels_first', not '" + f + "'");
  return f == "channels_first";
}

template <typename F>
auto parsed(Call& c, const std::string& p, F parse) {
  try {
    return parse(c.str(p));
  } catch (const Error& e) {
    throw ScriptError(c.loc_of(p), e.what());
  }
}

}  // namespace

void register_image_builtins(Registry& r) {
  add_builtin(r,
              "load_image(path, color_mode='rgb', target_size=None, interpolation='nearest', "
              "data_format='channels_last')",
              "Reads a PNG image as an f32 array [H, W, C] in [0, 255] (Keras's load_img and "
              "img_to_array): color_mode 'grayscale', 'rgb' or 'rgba'; target_size [h, w] "
              "resizes ('nearest' or 'bilinear').",
              [](Call& c) {
                data::LoadImageOptions o;
                o.color_mode = parsed(c, "color_mode", data::parse_color_mode);
                o.interpolation = parsed(c, "interpolation", data::parse_interpolation);
                if (!c.is_none("target_size")) o.size = c.pair("target_size");
                o.channels_first = channels_first(c);
                try {
                  return Value::array(data::load_image(c.str("path"), o));
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("path"), e.what());
                }
              });
  add_builtin(r, "save_image(path, x, scale=True, data_format='channels_last')",
              "Writes an image [H, W] or [H, W, C] (C 1 to 4) as an 8-bit PNG file (Keras's "
              "save_img): scale=True maps [min, max] to [0, 255]; scale=False needs values in "
              "[0, 255].",
              [](Call& c) {
                Array a = c.array("x");
                const bool cf = channels_first(c);
                try {
                  data::save_image(c.str("path"), a, c.boolean("scale"), cf);
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("x"), e.what());
                }
                return Value::none();
              });
  add_builtin(
      r,
      "image_dataset_from_directory(directory, labels='inferred', label_mode='int', "
      "class_names=None, color_mode='rgb', image_size=[256, 256], shuffle=True, seed=None, "
      "validation_split=None, subset=None, interpolation='bilinear', "
      "data_format='channels_last')",
      "Reads directory/<class>/**/*.png, one class per subfolder (Keras's function of the same "
      "name), into an ImageDataset: x f32 [N, H, W, C] in [0, 255], y (label_mode 'int': i32 "
      "[N]; 'categorical': one-hot f32 [N, K]; 'binary': f32 [N, 1]), class_names, "
      "file_paths. subset 'training' or 'validation' with a validation_split; 'both' returns "
      "[training, validation]. Pass x and y to fit with the batch size there.",
      [](Call& c) {
        data::ImageFolderOptions o;
        const bool no_labels = c.is_none("labels") || c.is_none("label_mode");
        if (!c.is_none("labels") && c.str("labels") != "inferred")
          c.value_error("labels", "must be 'inferred' (one class per subfolder) or None");
        o.label_mode =
            no_labels ? data::LabelMode::none : parsed(c, "label_mode", data::parse_label_mode);
        if (!c.is_none("class_names"))
          for (const Value& v : c.list("class_names")) {
            if (!v.is_str()) c.type_error("class_names", "a list of subfolder names");
            o.class_names.push_back(v.as_str());
          }
        o.color_mode = parsed(c, "color_mode", data::parse_color_mode);
        std::tie(o.height, o.width) = c.pair("image_size");
        o.shuffle = c.boolean("shuffle");
        if (auto s = c.opt_integer("seed")) {
          if (*s < 0) c.value_error("seed", "must not be negative");
          o.seed = static_cast<uint64_t>(*s);
        }
        o.validation_split = c.opt_number("validation_split").value_or(0);
        o.subset = c.opt_str("subset").value_or("");
        o.interpolation = parsed(c, "interpolation", data::parse_interpolation);
        o.channels_first = channels_first(c);
        std::vector<data::ImageFolder> sets;
        try {
          sets = data::image_dataset_from_directory(c.str("directory"), o);
        } catch (const Error& e) {
          throw ScriptError(c.loc_of("directory"), e.what());
        }
        std::vector<Value> out;
        for (auto& s : sets)
          out.push_back(Value::object(std::make_shared<ImageDatasetObject>(std::move(s))));
        return out.size() == 1 ? out[0] : Value::list(out);
      });
}

}  // namespace soma::script
