// The plugin loader (envs/plugin_loader.h): a plugin's ids appear in the registry with the plugin as
// their origin and run through the usual back ends; every refusal names the plugin and the reason
// (both versions, the missing symbol, the duplicate id and who holds it) and registers nothing; a
// plugin env whose step throws names the plugin, the env id and the lane.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/version.h"
#include "envs/plugin_loader.h"
#include "envs/registry.h"
#include "test_paths.h"

namespace apiary::envs {
namespace {

using plugin_test::canonical;

// The message of the PluginError that loading `path` throws ("" if it loads).
std::string refusal(const std::string& path) {
  try {
    load_plugin(path);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

bool is_loaded(const char* path) {
  for (const auto& p : loaded_plugins())
    if (p.path == canonical(path)) return true;
  return false;
}

TEST(PluginLoader, RegistersTheIdsWithThePluginAsOrigin) {
  const LoadedPlugin p = load_plugin(PLUGIN_TEST_PLUGIN_WALK);
  EXPECT_EQ(p.path, canonical(PLUGIN_TEST_PLUGIN_WALK));
  EXPECT_EQ(p.version, kVersion);
  EXPECT_EQ(p.env_ids, (std::vector<std::string>{"PluginWalk-v0", "PluginDrift-v0"}));
  for (const auto& id : p.env_ids) {
    const EnvEntry* entry = Registry::global().find(id);
    ASSERT_NE(entry, nullptr) << id;
    EXPECT_EQ(entry->origin, p.path);
  }
  // Loading it again (also by another spelling of the path) changes nothing.
  const std::filesystem::path file(PLUGIN_TEST_PLUGIN_WALK);
  const std::string dotted = (file.parent_path() / "." / file.filename()).string();
  EXPECT_EQ(load_plugin(dotted).env_ids, p.env_ids);
  EXPECT_EQ(load_plugin(PLUGIN_TEST_PLUGIN_WALK).env_ids, p.env_ids);
  EXPECT_TRUE(is_loaded(PLUGIN_TEST_PLUGIN_WALK));
}

TEST(PluginLoader, PluginEnvsRunOnTheBackEnds) {
  load_plugin(PLUGIN_TEST_PLUGIN_WALK);
  auto walk = make_env("PluginWalk-v0", 4, Device::kCpu, {{"goal", 2.0}});
  EXPECT_EQ(walk->spec().observation_space.high[0], 2.0f);  // the option reached the plugin's Params
  walk->reset(3);
  const std::int32_t right[4] = {2, 2, 2, 2};
  walk->step(ActionBatch::discrete(right, 4));
  EXPECT_EQ(walk->buffers().obs[0], 1.0f);
  walk->step(ActionBatch::discrete(right, 4));
  EXPECT_EQ(walk->buffers().terminated[0], 1);  // reached +2
  EXPECT_EQ(walk->buffers().final_obs[0], 2.0f);
  EXPECT_EQ(walk->buffers().obs[0], 0.0f);  // auto-reset by the back end
  // The CPU env's painter input: its describe().
  Scene scene;
  ASSERT_TRUE(walk->describe(1, scene));
  ASSERT_EQ(scene.shapes.size(), 1u);
  EXPECT_EQ(scene.shapes[0].tag, "walker");
  EXPECT_EQ(scene.env_id, "PluginWalk-v0");

  // The __host__ __device__ env on Thrust's CPU system, painted from its static describe().
  auto drift = make_env("PluginDrift-v0", 3);
  drift->reset(1);
  const float x0 = drift->buffers().obs[2];
  const float push[3] = {1.0f, 1.0f, 1.0f};
  drift->step(ActionBatch::continuous(push, 3, 1));
  EXPECT_FLOAT_EQ(drift->buffers().obs[2], x0 + 0.1f);
  ASSERT_TRUE(drift->describe(2, scene));
  ASSERT_EQ(scene.shapes.size(), 1u);
  EXPECT_EQ(scene.shapes[0].tag, "drifter");
  EXPECT_FLOAT_EQ(scene.shapes[0].xy[0], drift->buffers().obs[2]);
  EXPECT_THROW(drift->describe(3, scene), std::out_of_range);

  // Both draw batches of pictures through the program's drawing (in neutral colours: these plugins
  // give none), each frame its lane's own picture.
  for (const VecEnv* env : {walk.get(), drift.get()}) {
    ASSERT_TRUE(env->has_picture());
    std::vector<std::uint8_t> batch(2 * 16 * 24 * 3), alone(16 * 24 * 3);
    env->render_lanes({1, 0}, 16, 24, batch.data());
    draw::Canvas canvas = draw::Canvas::over(alone.data(), 24, 16, 3);
    ASSERT_TRUE(env->draw_lane(1, canvas));
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batch.begin())) << env->spec().id;
    if (env == walk.get()) {  // the walker's circle stands in the view's corner (the drifter may be out of view)
      EXPECT_NE(std::count(batch.begin(), batch.end(), std::uint8_t{210}), 0) << "a light grey shape";
    }
  }
}

TEST(PluginLoader, AThrowingStepNamesThePluginTheEnvAndTheLane) {
  load_plugin(PLUGIN_TEST_PLUGIN_WALK);
  auto env = make_env("PluginWalk-v0", 4, Device::kCpu, {{"throw_lane", 2}, {"throw_after", 3}});
  env->reset(1);
  const std::int32_t stay[4] = {1, 1, 1, 1};
  for (int i = 0; i < 3; ++i) env->step(ActionBatch::discrete(stay, 4));
  try {
    env->step(ActionBatch::discrete(stay, 4));
    FAIL() << "the fourth step should throw";
  } catch (const std::invalid_argument& e) {
    FAIL() << "a fault of the plugin is not a usage error: " << e.what();
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("plugin " + canonical(PLUGIN_TEST_PLUGIN_WALK)), std::string::npos) << what;
    EXPECT_NE(what.find("PluginWalk-v0"), std::string::npos) << what;
    EXPECT_NE(what.find("lane 2"), std::string::npos) << what;
    EXPECT_NE(what.find("the walker fell off the plugin"), std::string::npos) << what;
  }
  // The caller's own mistakes keep their type and are not blamed on the plugin.
  const std::int32_t bad[4] = {1, 1, 7, 1};
  EXPECT_THROW(env->step(ActionBatch::discrete(bad, 4)), std::out_of_range);
}

// A spec that disagrees with the env's compile-time sizes is refused when the plugin loads, naming the
// plugin, the id, the space and the constant; nothing of the plugin is registered.
TEST(PluginLoader, RefusesASpecThatDisagreesWithTheCompileTimeSizes) {
  std::string why = refusal(PLUGIN_TEST_PLUGIN_OBS_MISMATCH);
  EXPECT_NE(why.find(canonical(PLUGIN_TEST_PLUGIN_OBS_MISMATCH)), std::string::npos) << why;
  EXPECT_NE(why.find("MismatchObs-v0: the spec's observation space Box(0.0, 1.0, (4,), float32) has 4 elements, but "
                     "kObsDim is 3"),
            std::string::npos)
      << why;
  EXPECT_EQ(Registry::global().find("MismatchObs-v0"), nullptr);
  EXPECT_FALSE(is_loaded(PLUGIN_TEST_PLUGIN_OBS_MISMATCH));

  why = refusal(PLUGIN_TEST_PLUGIN_ACTION_MISMATCH);
  EXPECT_NE(why.find("MismatchActions-v0: the spec's action space is Discrete(4), but kNumActions is 3 (step() "
                     "accepts actions 0 to 2)"),
            std::string::npos)
      << why;
  EXPECT_EQ(Registry::global().find("MismatchActions-v0"), nullptr);
}

TEST(PluginLoader, RefusesAMissingFile) {
  const std::string m = refusal("/nonexistent/libnothing.so");
  EXPECT_NE(m.find("plugin /nonexistent/libnothing.so"), std::string::npos) << m;
  EXPECT_NE(m.find("no such file"), std::string::npos) << m;
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
}

TEST(PluginLoader, RefusesAnotherVersionNamingBoth) {
  for (const char* path : {PLUGIN_TEST_PLUGIN_OTHER_VERSION, PLUGIN_TEST_PLUGIN_OTHER_VERSION_UNDEFINED}) {
    const std::string m = refusal(path);
    EXPECT_NE(m.find(canonical(path)), std::string::npos) << m;
    EXPECT_NE(m.find("built against Apiary 0.0.0-test"), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("this is Apiary ") + kVersion), std::string::npos) << m;
    EXPECT_FALSE(is_loaded(path));
  }
}

TEST(PluginLoader, RefusesAnUnresolvedSymbolQuotingTheLoader) {
  const std::string m = refusal(PLUGIN_TEST_PLUGIN_UNDEFINED_SYMBOL);
  EXPECT_NE(m.find(canonical(PLUGIN_TEST_PLUGIN_UNDEFINED_SYMBOL)), std::string::npos) << m;
  EXPECT_NE(m.find("cannot be loaded"), std::string::npos) << m;
  EXPECT_NE(m.find("apiary_test_function_that_does_not_exist"), std::string::npos) << m;
  EXPECT_EQ(Registry::global().find("PluginBroken-v0"), nullptr);
}

TEST(PluginLoader, RefusesALibraryWithoutThePluginSymbols) {
  std::string m = refusal(PLUGIN_TEST_PLUGIN_NO_REGISTER);
  EXPECT_NE(m.find(canonical(PLUGIN_TEST_PLUGIN_NO_REGISTER)), std::string::npos) << m;
  EXPECT_NE(m.find("exports no apiary_plugin_register"), std::string::npos) << m;
  m = refusal(PLUGIN_TEST_PLUGIN_NOT_A_PLUGIN);
  EXPECT_NE(m.find(canonical(PLUGIN_TEST_PLUGIN_NOT_A_PLUGIN)), std::string::npos) << m;
  EXPECT_NE(m.find("exports no apiary_plugin_abi_version"), std::string::npos) << m;
  EXPECT_FALSE(is_loaded(PLUGIN_TEST_PLUGIN_NO_REGISTER));
  EXPECT_FALSE(is_loaded(PLUGIN_TEST_PLUGIN_NOT_A_PLUGIN));
}

TEST(PluginLoader, RefusesABuiltinId) {
  const std::string m = refusal(PLUGIN_TEST_PLUGIN_DUPLICATE_BUILTIN);
  EXPECT_NE(m.find(canonical(PLUGIN_TEST_PLUGIN_DUPLICATE_BUILTIN)), std::string::npos) << m;
  EXPECT_NE(m.find("'CartPole-v1' is already registered by builtin"), std::string::npos) << m;
  EXPECT_EQ(Registry::global().at("CartPole-v1").origin, "builtin");
}

TEST(PluginLoader, RefusesAnIdOfAnotherPluginAllOrNothing) {
  load_plugin(PLUGIN_TEST_PLUGIN_WALK);
  const std::string m = refusal(PLUGIN_TEST_PLUGIN_DUPLICATE);
  EXPECT_NE(m.find("plugin " + canonical(PLUGIN_TEST_PLUGIN_DUPLICATE)), std::string::npos) << m;
  EXPECT_NE(m.find("'PluginWalk-v0' is already registered by " + canonical(PLUGIN_TEST_PLUGIN_WALK)),
            std::string::npos)
      << m;
  // The plugin's other, new id was not registered either.
  EXPECT_EQ(Registry::global().find("PluginOtherWalk-v0"), nullptr);
  EXPECT_FALSE(is_loaded(PLUGIN_TEST_PLUGIN_DUPLICATE));
}

}  // namespace
}  // namespace apiary::envs
