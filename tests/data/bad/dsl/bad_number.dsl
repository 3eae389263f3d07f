net x
{
  node A
  {
    TYPE = CPT;
    DEFINITION =
    {
      NAMESTATES = (yes, no);
      PROBABILITIES = (0.5, 0.5x);
    };
  };
};
